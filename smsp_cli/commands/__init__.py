"""Command groups of the smsp CLI; each module is thin: parse, call, render."""

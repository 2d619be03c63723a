"""The faster ways the core path reads XML find and read exactly what the plain ways did."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from smsp_cli.adapters.smsp import envelope, reply_payloads, templating, xmlsafe
from smsp_cli.adapters.smsp.replies import parse_reply
from smsp_cli.adapters.smsp.xmlsafe import NS, clark
from smsp_cli.domain import operations

_DOCUMENT = b"""<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:itk="urn:nhs-itk:ns:201005">
  <soap:Header><wsa:MessageID>ABC</wsa:MessageID></soap:Header>
  <soap:Body>
    <itk:DistributionEnvelope>
      <itk:payloads count="1"><itk:payload id="p">
        <verifyNHSNumberResponse-v1-0 xmlns="urn:hl7-org:v3">
          <value code="SMSP-0000"/>
          <component><validIdentifier><value value="true"/>
            <subject><patient><id root="2.16.840.1.113883.2.1.4.1" extension="9434765919"/>
            </patient></subject>
          </validIdentifier></component>
        </verifyNHSNumberResponse-v1-0>
      </itk:payload></itk:payloads>
    </itk:DistributionEnvelope>
  </soap:Body>
</soap:Envelope>
"""


@pytest.mark.parametrize(
    "path",
    [
        "soap:Header/wsa:MessageID",
        "soap:Body/itk:DistributionEnvelope/itk:payloads/itk:payload",
        ".//hl7:validIdentifier/hl7:value",
        ".//hl7:subject/hl7:patient/hl7:id",
        "soap:Body/hl7:nothing",
    ],
)
def test_a_clark_path_finds_what_the_prefixed_path_finds(path: str) -> None:
    root = xmlsafe.parse(_DOCUMENT)
    assert root.findall(clark(path)) == root.findall(path, NS)


def test_clark_names_come_from_the_shared_table() -> None:
    assert clark("hl7:a/hl7:b") == "{urn:hl7-org:v3}a/{urn:hl7-org:v3}b"
    assert clark(".//soap:Body") == ".//{http://schemas.xmlsoap.org/soap/envelope/}Body"


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<&]"),
    max_size=12,
)


@given(_TEXT, st.sampled_from(["", "<!--note-->", "<b>in</b>", "<!--x--><b>y</b>"]), _TEXT)
def test_text_reads_leaves_and_mixed_content_alike(head: str, inside: str, tail: str) -> None:
    element = etree.fromstring(f"<a>{head}{inside}{tail}</a>".encode())
    expected = "".join(
        part for part in element.itertext() if isinstance(part, str)
    ).strip()
    assert reply_payloads.text(element) == expected


def test_the_payload_xml_is_made_when_first_asked_for_and_kept() -> None:
    reply = parse_reply(200, _DOCUMENT)
    assert "payload" not in vars(reply)  # not serialised yet: JSON and tables never need it
    first = reply.payload
    assert first.startswith(b"<verifyNHSNumberResponse-v1-0")
    assert b"soap" not in first  # only the namespaces the payload uses
    assert reply.payload is first
    assert "serialise" not in repr(reply)


def test_a_utf8_document_without_markup_declarations_is_not_scanned_for_them() -> None:
    # The shortcut must not let a DOCTYPE through in any of the scanned encodings.
    for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        hostile = '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode(encoding)
        with pytest.raises(xmlsafe.UnsafeXml, match="DOCTYPE"):
            xmlsafe.refuse_dtd_markup(hostile)
    xmlsafe.refuse_dtd_markup(_DOCUMENT)  # nothing to refuse


@pytest.mark.parametrize("operation", operations.ALL, ids=lambda op: op.name)
def test_the_envelope_and_each_payload_template_name_different_placeholders(
    operation: operations.Operation,
) -> None:
    envelope = templating.placeholders(templating.load("envelope.xml"))
    payload = templating.placeholders(templating.load(operation.template))
    assert not envelope & payload  # one set of values fills both, nested


def test_a_placeholder_left_without_a_value_is_an_error_unless_its_part_is_dropped() -> None:
    values = dict.fromkeys(templating.placeholders(templating.load("envelope.xml")), "x")
    del values["sender_address"]
    filled = templating.load_filled("envelope.xml", values)
    assert [name for _, name in filled.unfilled] == ["sender_address"]
    with pytest.raises(templating.TemplateError, match=r"\$sender_address has no value"):
        filled.check()
    templating.remove(filled.at("soap:Header/wsa:From"))
    filled.check()  # dropped with its part: nothing is left unfilled
    assert templating.placeholders(filled.root) == set()


def test_filling_by_position_fills_what_filling_by_search_fills() -> None:
    values = {
        name: f"value of {name}"
        for name in templating.placeholders(templating.load("envelope.xml"))
    }
    by_search = templating.load("envelope.xml")
    templating.fill(by_search, values)
    by_position = templating.load_filled("envelope.xml", values)
    assert by_position.unfilled == []
    assert etree.tostring(by_position.root) == etree.tostring(by_search)


@pytest.mark.parametrize("name", ["envelope.xml", *(op.template for op in operations.ALL)])
def test_a_layout_writes_the_bytes_lxml_writes_for_the_filled_tree(name: str) -> None:
    # Every character libxml2 escapes in a text or an attribute value, and some it does not.
    awkward = 'a&b<c>d"e\'f\tg\nh\ri]]>ÉŁ\U0001f600 $x'
    values = {
        placeholder: f"{placeholder} {awkward}"
        for placeholder in templating.placeholders(templating.load(name))
    }
    by_search = templating.load(name)
    templating.fill(by_search, values)
    layout = templating.laid_out(name, values, lambda filled: None)
    assert layout.render(values) == templating.serialise(by_search)
    other = dict.fromkeys(values, "plain")
    templating.fill(again := templating.load(name), other)
    assert layout.render(other) == templating.serialise(again)  # the layout is reused


def test_a_layout_keeps_only_what_its_pruning_left_and_refuses_a_placeholder_left_unfilled(
) -> None:
    names = templating.placeholders(templating.load("envelope.xml")) - {"sender_address"}
    with pytest.raises(templating.TemplateError, match=r"\$sender_address has no value"):
        templating.laid_out("envelope.xml", names, lambda filled: None)

    def without_sender(filled: templating.Filled) -> None:
        templating.remove(filled.at("soap:Header/wsa:From"))

    layout = templating.laid_out("envelope.xml", names, without_sender)
    body = layout.render(dict.fromkeys(names, "v"))
    assert b"wsa:From" not in body
    assert xmlsafe.parse(body).find(clark("soap:Header/wsa:To")).text == "v"


def test_an_element_is_found_by_its_place_in_the_template() -> None:
    filled = templating.load_filled("envelope.xml", {})
    assert filled.at("soap:Header/wsa:To") is filled.root.find(clark("soap:Header/wsa:To"))
    with pytest.raises(templating.TemplateError, match="has no soap:Header/wsa:Nothing"):
        filled.at("soap:Header/wsa:Nothing")


# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
_XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def test_the_not_an_xml_character_class_is_exactly_the_complement_of_char() -> None:
    every = "".join(chr(point) for point in range(0x110000))
    refused = set(envelope._NOT_XML_CHAR.findall(every))
    allowed = set(_XML_CHAR.findall(every))
    assert not refused & allowed
    assert len(refused) + len(allowed) == 0x110000
    edges = {0x00, 0x08, 0x0B, 0x1F, 0xD800, 0xDFFF, 0xFFFE, 0xFFFF}
    assert {chr(point) for point in edges} <= refused

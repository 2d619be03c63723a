"""The PDS FHIR adapter: signed-JWT sign-in and token cache, requests, replies into results."""

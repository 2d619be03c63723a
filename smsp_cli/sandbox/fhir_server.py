"""The embedded PDS FHIR provider: HTTPS on loopback, an identity service and Patient reads.

* ``POST /oauth2/token`` checks the signed JWT as NHS England's identity service does, against
  the sandbox's own public key (every refusal of pds-fhir §1, with its status and words);
* ``GET /personal-demographics/FHIR/R4/Patient/{id}`` and ``/Patient?...`` check the headers
  (X-Request-ID present, a UUID, mirrored; a bearer token it issued, not expired) and the
  application-restricted rule (``_max-results=1``), then answer from the SMSP sandbox's own
  patient table (:mod:`smsp_cli.sandbox.fhir_records` says how each scenario plays).

TLS uses the sandbox's throwaway CA and server certificate; no client certificate is asked
for (PDS FHIR signs in with the JWT). Nothing is logged: requests carry patient data.
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from smsp_cli.domain.models import Gender, is_valid_nhs_number
from smsp_cli.domain.operations import TRACE
from smsp_cli.sandbox import fhir_records
from smsp_cli.sandbox.matching import MULTIPLE_MATCHES, NO_MATCH, Criteria, PatientIndex
from smsp_cli.sandbox.tls_http import TlsHttpServer

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.patients import SandboxPatient

FHIR_PATH = "/personal-demographics/FHIR/R4"
TOKEN_PATH = "/oauth2/token"
API_KEY = "smsp-sandbox-api-key"
KEY_ID = "smsp-sandbox-1"
# An application with no public key registered: the identity service answers 403.
UNREGISTERED_API_KEY = "smsp-sandbox-no-public-key"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 599  # seconds, as the identity service gives
MAX_BODY = 64 * 1024
SIGNING_KEY_FILE = "fhir-signing-key.pem"
_FHIR_JSON = "application/fhir+json"
_GENDER_CODES = {"male": Gender.MALE.value, "female": Gender.FEMALE.value,
                 "unknown": Gender.NOT_KNOWN.value, "other": Gender.NOT_SPECIFIED.value}


def ensure_signing_key(directory: Path) -> Path:
    """The sandbox application's RSA signing key (PEM, 0600), made once and kept."""
    path = directory / SIGNING_KEY_FILE
    if path.is_file():
        return path
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, pem)
    finally:
        os.close(descriptor)
    temporary.replace(path)
    return path


class FhirSandboxServer:
    """A PDS FHIR provider and identity service on 127.0.0.1, for users and end-to-end tests."""

    def __init__(
        self,
        credentials: SandboxCredentials,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        patients: Iterable[SandboxPatient] | None = None,
        token_lifetime: int = TOKEN_LIFETIME,
        timeout: float = 15.0,
        expire_tokens_every: int = 0,
    ) -> None:
        if patients is None:
            from smsp_cli.sandbox.builtin import BUILT_IN

            patients = BUILT_IN
        from cryptography.hazmat.primitives import serialization

        self.credentials = credentials
        self.host, self.port, self.timeout = host, port, timeout
        self.token_lifetime = token_lifetime
        # Every N Patient calls, every token issued stops being valid: a token that expires
        # in the middle of a batch (0: never).
        self.expire_tokens_every = expire_tokens_every
        self._served = 0
        held = tuple(patients)
        # The records with their SMSP-forced codes lifted, so that a search finds them.
        self.search_index = PatientIndex(
            replace(p, response_code="SMSP-0000", fault=None) for p in held)
        self.by_number = {p.patient.nhs_number: p for p in held if p.patient.nhs_number}
        self.signing_key = ensure_signing_key(credentials.directory)
        from cryptography.hazmat.primitives.asymmetric import rsa

        private = serialization.load_pem_private_key(self.signing_key.read_bytes(), None)
        assert isinstance(private, rsa.RSAPrivateKey)
        self.public_key: rsa.RSAPublicKey = private.public_key()
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ssl_context.load_cert_chain(credentials.server_cert, credentials.server_key)
        self.tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._used: set[str] = set()  # tokens a Patient call has been answered with
        self.used_jti: set[str] = set()
        self.rate_limited: set[str] = set()  # request ids already given their one 429
        self.calls: list[tuple[str, int]] = []  # (path kind, status): no patient data
        self.clock_offset = 0.0  # seconds the sandbox's clock is ahead (doctor's clock check)
        self.lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        if self._httpd is None:
            raise RuntimeError("the FHIR sandbox has not been started")
        return f"https://{self._httpd.server_name}:{self._httpd.server_port}"

    @property
    def url(self) -> str:
        """The FHIR base URL (the profile's endpoint)."""
        return self.base_url + FHIR_PATH

    @property
    def token_url(self) -> str:
        """The token URL (the JWT's aud)."""
        return self.base_url + TOKEN_PATH

    def now(self) -> float:
        """The sandbox's clock."""
        return time.time() + self.clock_offset

    def start(self) -> FhirSandboxServer:
        """Listen and serve in a daemon thread."""
        if self._httpd is None:
            self._httpd = _Server((self.host, self.port), self)
            self._thread = threading.Thread(target=self._httpd.serve_forever,
                                            kwargs={"poll_interval": 0.2},
                                            name="smsp-fhir-sandbox", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (``smsp sandbox serve --api fhir``)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FhirSandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def expire_tokens(self) -> None:
        """Every token issued so far stops being valid (a token expiring mid-batch)."""
        with self.lock:
            self.tokens.clear()

    # --- The identity service ------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer a token request as the identity service does."""
        import jwt

        if form.get("grant_type") != "client_credentials":
            return 400, _oauth("unsupported_grant_type", "grant_type is missing or invalid")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return 400, _oauth("invalid_request", "Missing or invalid client_assertion_type - "
                               f"must be '{ASSERTION_TYPE}'")
        assertion = form.get("client_assertion")
        if not assertion:
            return 400, _oauth("invalid_request", "Missing client_assertion")
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return 400, _oauth("invalid_request", "Malformed JWT in client_assertion")
        if header.get("alg") != "RS512":
            return 400, _oauth("invalid_request", "Invalid 'alg' header in JWT - unsupported "
                               "JWT algorithm - must be 'RS512'")
        if not header.get("kid"):
            return 400, _oauth("invalid_request", "Missing 'kid' header in JWT")
        if claims.get("iss") == UNREGISTERED_API_KEY:
            return 403, _oauth("public_key error", "You need to register a public key to use "
                               "this authentication method - please contact support to "
                               "configure")
        if header.get("kid") != KEY_ID:
            return 401, _oauth("invalid_request", "Invalid 'kid' header in JWT - no matching "
                               "public key")
        try:
            jwt.decode(assertion, self.public_key, algorithms=["RS512"],
                       options={"verify_exp": False, "verify_aud": False})
        except jwt.PyJWTError:
            return 401, _oauth("invalid_request", "Invalid JWT signature")
        if claims.get("iss") != API_KEY or claims.get("sub") != API_KEY:
            return 401, _oauth("invalid_request", "Missing or non-matching 'iss'/'sub' claims "
                               "in JWT")
        if claims.get("aud") != self.token_url:
            return 401, _oauth("invalid_request", "Missing or non-matching 'aud' claim in JWT")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            return 400, _oauth("invalid_request", "Missing 'jti' claim in JWT")
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            return 400, _oauth("invalid_request", "Missing 'exp' claim in JWT")
        now = self.now()
        if exp < now:
            return 400, _oauth("invalid_request", "Invalid 'exp' claim in JWT - JWT has expired")
        if exp > now + 300:
            return 400, _oauth("invalid_request", "Invalid 'exp' claim in JWT - more than 5 "
                               "minutes in future")
        with self.lock:
            if jti in self.used_jti:
                return 400, _oauth("invalid_request", "Non-unique 'jti' claim in JWT")
            self.used_jti.add(jti)
            token = secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")
            self.tokens[token] = now + self.token_lifetime
        return 200, {"access_token": token, "expires_in": str(self.token_lifetime),
                     "token_type": "Bearer", "issued_at": str(int(now * 1000))}

    # --- PDS FHIR ----------------------------------------------------------------------------

    def patient_call(self, path: str, query: str, headers: dict[str, str]
                     ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer a Patient read or search: (status, body, extra headers)."""
        request_id = headers.get("x-request-id")
        if not request_id:
            return 400, fhir_records.operation_outcome(
                "MISSING_VALUE", diagnostics="Invalid request with error - X-Request-ID header "
                "must be supplied to access this resource"), {}
        try:
            uuid.UUID(request_id)
        except ValueError:
            return 400, fhir_records.operation_outcome(
                "INVALID_VALUE", diagnostics="Invalid value - 'X-Request-ID' in header "
                "'X-Request-ID'"), {}
        mirrored = {"X-Request-ID": request_id}
        authorisation = headers.get("authorization", "")
        token = authorisation.removeprefix("Bearer ").strip()
        with self.lock:
            expiry = self.tokens.get(token) if authorisation.startswith("Bearer ") else None
        if expiry is None or expiry < self.now():
            return 401, fhir_records.operation_outcome(
                "ACCESS_DENIED", diagnostics="Invalid access token", display="Access Denied - "
                "Unauthorised"), mirrored
        with self.lock:
            self._served += 1
            self._used.add(token)
            if self.expire_tokens_every and self._served % self.expire_tokens_every == 0:
                # Every token already in use expires: this call still passes, the next with it
                # gets a 401. A token just issued and not yet used stays valid, as a real one
                # (about ten minutes) would: a client that signed in again is not refused again.
                for used in self._used:
                    self.tokens.pop(used, None)
                self._used.clear()
        relative = path[len(FHIR_PATH):]
        if relative.startswith("/Patient/") and relative.count("/") == 2:
            return (*self._read(relative.split("/")[2], request_id), mirrored)
        if relative in ("/Patient", "/Patient/"):
            status, body = self._search(query, request_id)
            return status, body, mirrored
        return 404, fhir_records.operation_outcome("INVALID_METHOD"), mirrored

    def _read(self, number: str, request_id: str) -> tuple[int, dict[str, Any]]:
        if not is_valid_nhs_number(number):
            return 400, fhir_records.operation_outcome(
                "INVALID_RESOURCE_ID", diagnostics=f"Invalid NHS number - {number}"[:40])
        held = self.by_number.get(number)
        if held is None:
            return 404, fhir_records.operation_outcome("RESOURCE_NOT_FOUND",
                                                       severity="information")
        seen = {number}
        while held.superseded_by is not None and held.superseded_by not in seen:
            seen.add(held.superseded_by)
            held = self.by_number[held.superseded_by]
        return self._scenario(held, request_id, reduced=False)

    def _scenario(self, held: SandboxPatient, request_id: str, *, reduced: bool
                  ) -> tuple[int, dict[str, Any]]:
        if held.scenario == fhir_records.RATE_LIMITED_ONCE:
            with self.lock:
                first = request_id not in self.rate_limited
                self.rate_limited.add(request_id)
            if first:
                return 429, fhir_records.operation_outcome(
                    "TOO_MANY_REQUESTS", diagnostics="You have exceeded your application's "
                    "rate limit")
        failure = fhir_records.ERRORS.get(held.scenario)
        if failure is not None:
            status, code = failure
            return status, fhir_records.operation_outcome(code)
        return 200, fhir_records.resource(held, reduced=reduced)

    def _search(self, query: str, request_id: str) -> tuple[int, dict[str, Any]]:
        params = parse_qs(query, keep_blank_values=True)
        if params.get("_max-results") != ["1"]:
            return 403, fhir_records.operation_outcome(
                "INVALID_VALUE", diagnostics="Invalid value - '_max-results' must be 1 for "
                "application-restricted access")
        criteria = _criteria(params)
        if criteria is None:
            return 400, fhir_records.operation_outcome("INVALID_SEARCH_DATA")
        # Matching alone decides here: a scenario's outcome plays once its record is found.
        answer = self.search_index.answer(TRACE, criteria)
        if answer.response_code == MULTIPLE_MATCHES:
            return 200, fhir_records.operation_outcome("TOO_MANY_MATCHES",
                                                       severity="information")
        held = self.by_number.get(answer.patient.nhs_number or "") if answer.patient else None
        if answer.response_code == NO_MATCH or held is None:
            return 200, fhir_records.bundle([], self.url)
        if held.sensitive and criteria.postcode is not None:
            # pds-fhir §2: a search with a postcode never returns a restricted patient.
            return 200, fhir_records.bundle([], self.url)
        status, body = self._scenario(held, request_id, reduced=True)
        if status != 200:
            return status, body
        return 200, fhir_records.bundle([body], self.url)


def _criteria(params: dict[str, list[str]]) -> Criteria | None:
    dates = params.get("birthdate") or []
    birth = _birth(dates)
    gender = _first(params, "gender")
    if birth is None or gender not in _GENDER_CODES:
        return None
    return Criteria(
        birth_date=birth,
        family=_first(params, "family"),
        given=_first(params, "given"),
        gender=_GENDER_CODES[gender],
        postcode=_first(params, "address-postalcode"),
    )


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _birth(dates: list[str]) -> str | None:
    """eqYYYY-MM-DD, or a ge/le range over a month or a year, as an HL7 date."""
    if len(dates) == 1 and dates[0].startswith("eq") and len(dates[0]) == 12:
        return dates[0][2:].replace("-", "")
    lower = next((d[2:] for d in dates if d.startswith("ge")), None)
    upper = next((d[2:] for d in dates if d.startswith("le")), None)
    if lower is None or upper is None or lower[:4] != upper[:4]:
        return None
    if lower[5:] == "01-01" and upper[5:] == "12-31":
        return lower[:4]
    if lower[:7] == upper[:7] and lower.endswith("-01"):
        return lower[:7].replace("-", "")
    return None


def _oauth(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description,
            "message_id": str(uuid.uuid4())}


class _Server(TlsHttpServer):
    sandbox: FhirSandboxServer

    def __init__(self, address: tuple[str, int], sandbox: FhirSandboxServer) -> None:
        super().__init__(address, sandbox, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smsp-sandbox"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests carry patient data

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header follows the sandbox's clock, which a test may set off (doctor).
        return super().date_time_string(self.sandbox.now() if timestamp is None else timestamp)

    @property
    def sandbox(self) -> FhirSandboxServer:
        server = self.server
        assert isinstance(server, _Server)
        return server.sandbox

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = self.headers.get("Content-Length", "")
        if path != TOKEN_PATH or not length.isdigit() or int(length) > MAX_BODY:
            self._send(404 if path != TOKEN_PATH else 400, _oauth("invalid_request",
                       "unknown path or bad body"), "application/json")
            return
        form = dict(parse_qsl(self.rfile.read(int(length)).decode("utf-8", "replace")))
        status, body = self.sandbox.token(form)
        self.sandbox.calls.append(("token", status))
        self._send(status, body, "application/json")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if not parts.path.startswith(FHIR_PATH):
            self._send(404, fhir_records.operation_outcome("INVALID_METHOD"), _FHIR_JSON)
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            status, body, extra = self.sandbox.patient_call(parts.path, parts.query, headers)
        except Exception:  # never stop the server; answer as PDS does
            status, body, extra = 500, fhir_records.operation_outcome("UNKNOWN_ERROR"), {}
        if status in (429, 503):
            extra = {**extra, "Retry-After": "0"}
        self.sandbox.calls.append(("patient", status))
        self._send(status, body, _FHIR_JSON, extra)

    def _send(self, status: int, body: dict[str, Any], content_type: str,
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

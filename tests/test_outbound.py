"""The outbound policy: which addresses the dashboard connects to, how it follows a
provider's redirect, and what people see of a connection's URL and errors."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from dashboard.models import Connection, Health, SyncRun
from dashboard.public_errors import REFUSED_BY_POLICY, public_error
from dashboard.sync import sync_connection
from providers.base.client import BaseClient
from providers.base.errors import CONNECTION_ERRORS, AuthError
from providers.base.outbound import (
    OutboundRefused,
    Policy,
    RedirectFailed,
    check_address,
    check_url,
    follow_redirect,
)

STRICT = Policy()
OPEN = Policy(allow_private=True, allow_loopback=True)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.170.2",
        "fe80::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "::ffff:169.254.169.254",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.10",
    ],
)
def test_link_local_metadata_and_odd_addresses_are_refused_whatever_the_settings(address):
    with pytest.raises(OutboundRefused):
        check_address(address, OPEN)


@pytest.mark.parametrize("address", ["10.1.2.3", "172.16.0.9", "192.168.1.1", "100.64.0.1", "fd12::1"])
def test_private_addresses_need_the_setting(address):
    with pytest.raises(OutboundRefused, match="OUTBOUND_ALLOW_PRIVATE"):
        check_address(address, STRICT)
    check_address(address, Policy(allow_private=True))


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.1", "::1", "0.0.0.0", "::ffff:127.0.0.1"])
def test_loopback_needs_its_own_setting(address):
    with pytest.raises(OutboundRefused, match="OUTBOUND_ALLOW_LOOPBACK"):
        check_address(address, Policy(allow_private=True))
    check_address(address, Policy(allow_loopback=True))


def test_public_addresses_are_allowed():
    check_address("93.184.216.34", STRICT)
    check_address("2606:2800:220:1:248:1893:25c8:1946", STRICT)


@pytest.mark.parametrize(
    "url", ["ftp://ci.example.com/", "file:///etc/passwd", "gopher://x/", "https://user:pw@ci.example.com/", "//x/"]
)
def test_only_plain_http_urls_are_allowed(url):
    with pytest.raises(OutboundRefused):
        check_url(url, OPEN)


# Connecting ----------------------------------------------------------------------------------
def test_a_connection_to_a_metadata_address_is_refused_before_anything_is_sent(db, viewer_client):
    connection = Connection.objects.create(
        kind="semaphore", name="meta", slug="meta", base_url="http://169.254.169.254", token="t"
    )
    run = sync_connection(connection.pk)
    connection.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert connection.health == Health.UNREACHABLE and "outbound policy" in connection.last_error
    page = viewer_client.get(reverse("connections")).content.decode()
    assert REFUSED_BY_POLICY in page


def test_loopback_is_refused_unless_allowed(semaphore, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    sync_connection(semaphore.pk)
    semaphore.refresh_from_db()
    assert semaphore.health == Health.UNREACHABLE and "OUTBOUND_ALLOW_LOOPBACK" in semaphore.last_error

    settings.OUTBOUND_ALLOW_LOOPBACK = True
    sync_connection(semaphore.pk)
    semaphore.refresh_from_db()
    assert semaphore.health == Health.OK


def test_an_address_allowed_once_is_refused_as_soon_as_the_policy_refuses_it(semaphore, settings):
    # The pooled client remembers what it allowed; that memory must not outlive the policy.
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    sync_connection(semaphore.pk)
    semaphore.refresh_from_db()
    assert semaphore.health == Health.OK

    settings.OUTBOUND_ALLOW_LOOPBACK = False
    sync_connection(semaphore.pk)
    semaphore.refresh_from_db()
    assert semaphore.health == Health.UNREACHABLE and "OUTBOUND_ALLOW_LOOPBACK" in semaphore.last_error


@pytest.fixture
def resolver(monkeypatch):
    """The system resolver's answers for made-up names (the rest resolve as usual)."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            family = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET  # noqa: E731
            return [(family(a), socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_every_address_a_name_resolves_to_is_checked_when_connecting(servers, resolver):
    provider, url = servers()
    port = url.rsplit(":", 1)[1]
    resolver["ci.test"] = ["127.0.0.1"]
    with BaseClient(f"http://ci.test:{port}", "t") as client:
        assert client.get("/first").text == "body of /first"

    # Rebinding: the same name now also answers with the metadata address.
    resolver["ci.test"] = ["127.0.0.1", "169.254.169.254"]
    with BaseClient(f"http://ci.test:{port}", "t", max_attempts=1) as client, pytest.raises(OutboundRefused) as err:
        client.get("/second")
    assert "ci.test resolves to 169.254.169.254" in str(err.value)
    assert [path for path, _ in provider.seen] == ["/first"]


def test_a_client_talks_only_to_its_connections_origin(servers):
    _provider, url = servers()
    other, other_url = servers()
    with BaseClient(url, "t", max_attempts=1) as client, pytest.raises(OutboundRefused):
        client.get(f"{other_url}/elsewhere")
    assert other.seen == []


# Redirects -------------------------------------------------------------------------------------
class Recorder(BaseHTTPRequestHandler):
    """Answers GET with a redirect to ``redirects[path]`` or with the path as the body;
    records each request's path and Authorization header."""

    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        target = self.server.redirects.get(self.path)
        if target:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = f"body of {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def servers():
    started = []

    def start(redirects=None):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        server.seen, server.redirects = [], redirects or {}
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


class TokenClient(BaseClient):
    def auth_headers(self):
        return {"Authorization": "Token provider-secret"}


def test_a_redirect_to_a_refused_address_is_not_followed(servers):
    provider, url = servers({"/log": "http://169.254.169.254/latest/meta-data/iam"})
    with TokenClient(url, "t") as client:
        first = client.get("/log", expect_redirect=True)
        assert first.status_code == 302
        with pytest.raises(OutboundRefused, match="link-local or cloud metadata"):
            follow_redirect(client, first.headers["location"])
    assert [path for path, _ in provider.seen] == ["/log"]


def test_a_redirect_to_another_origin_is_refused_unless_listed(servers):
    storage, storage_url = servers()
    _provider, url = servers({"/log": f"{storage_url}/signed/log.txt?sig=abc"})
    with TokenClient(url, "t") as client:
        location = client.get("/log", expect_redirect=True).headers["location"]
        with pytest.raises(OutboundRefused, match="not the connection's address"):
            follow_redirect(client, location)
        assert storage.seen == []

        response = follow_redirect(client, location, allowed_origins=[storage_url])
    assert response.text == "body of /signed/log.txt?sig=abc"
    # The provider's token never goes to the storage.
    assert storage.seen == [("/signed/log.txt?sig=abc", None)]


def test_a_redirect_on_the_same_origin_is_followed_with_the_token(servers):
    provider, url = servers({"/log": "/raw/log.txt", "/hop": "/log"})
    with TokenClient(url, "t") as client:
        response = follow_redirect(client, "/hop")
    assert response.text == "body of /raw/log.txt"
    assert provider.seen[-1] == ("/raw/log.txt", "Token provider-secret")


def test_a_redirect_carrying_credentials_or_another_scheme_is_refused(servers):
    provider, url = servers()
    with TokenClient(url, "t") as client:
        for location in (url.replace("http://", "http://user:pw@") + "/x", "file:///etc/passwd", "ftp://x/"):
            with pytest.raises(OutboundRefused):
                follow_redirect(client, location)
    assert provider.seen == []


def test_an_unreachable_redirect_target_is_a_typed_error(servers):
    _, url = servers()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with TokenClient(url, "t") as client, pytest.raises(RedirectFailed):
        follow_redirect(client, f"http://127.0.0.1:{port}/x", allowed_origins=[f"http://127.0.0.1:{port}"])


def test_wildcard_origins_match_subdomains_only(servers):
    _, url = servers()
    with TokenClient(url, "t") as client:
        for location in ("https://evil.example/x", "https://s3.amazonaws.com.evil.example/x"):
            with pytest.raises(OutboundRefused):
                follow_redirect(client, location, allowed_origins=["https://*.s3.amazonaws.com"])


# What people see -----------------------------------------------------------------------------------
def test_credentials_in_a_stored_url_are_shown_nowhere(db, viewer_client):
    Connection.objects.create(
        kind="semaphore", name="legacy", slug="legacy", base_url="https://bob:hunter22@ci.example.com", token="t"
    )
    page = viewer_client.get(reverse("connections")).content.decode()
    api = viewer_client.get(reverse("api-connections")).content.decode()
    assert "hunter22" not in page + api and "bob" not in page + api
    assert "https://ci.example.com" in page and "https://ci.example.com" in api


def test_viewers_see_a_classified_error_and_admins_the_raw_one(db, client, viewer, admin_user):
    raw = "The provider failed (502): <html>internal-service-body password=hunter22</html>"
    Connection.objects.create(
        kind="semaphore",
        name="c",
        slug="c",
        base_url="https://ci.example.com",
        token="t",
        health=Health.UNREACHABLE,
        last_error=raw,
    )
    client.force_login(viewer)
    for body in (
        client.get(reverse("connections")).content.decode(),
        client.get(reverse("api-connections")).content.decode(),
    ):
        assert "internal-service-body" not in body and "hunter22" not in body
        assert "unreachable: the provider could not be reached" in body
    client.force_login(admin_user)
    page = client.get(reverse("connections")).content.decode()
    assert "&lt;html&gt;internal-service-body" in page and "<html>internal" not in page
    assert "hunter22" not in page


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (str(AuthError("The provider refused the token: bad")), "auth failed"),
        ("prunner refused the token: no token found", "auth failed"),
        ("Rate limited: slow down (will try again at the next sync)", "rate limited"),
        ("Cannot connect to https://x: [Errno 111] Connection refused", "unreachable"),
        ("The provider did not answer in time (ReadTimeout).", "unreachable"),
        ("Unexpected answer: The provider sent a body that is not JSON: '<html>'", "unexpected answer"),
        ("3 item(s) could not be read: jobs of build x: Not found", "unexpected answer"),
    ],
)
def test_errors_are_classified(text, shown):
    assert public_error(text).startswith(shown)


# The connection form ------------------------------------------------------------------------------
def form_data(base_url):
    return {
        "kind": "semaphore",
        "name": "n",
        "slug": "n",
        "base_url": base_url,
        "token": "tok",
        "options": "{}",
        "sync_interval": 60,
        "enabled": "on",
    }


def test_the_admin_form_refuses_credentials_in_the_url_and_does_not_show_them_again(admin_client_):
    response = admin_client_.post("/admin/dashboard/connection/add/", form_data("https://bob:hunter22@ci.example.com"))
    html = response.content.decode()
    assert response.status_code == 200 and not Connection.objects.exists()
    assert "Remove the user name and password from the URL" in html
    assert "hunter22" not in html


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254", "link-local"),
        ("http://[fe80::1]:8080", "link-local"),
        ("http://10.0.0.5", "OUTBOUND_ALLOW_PRIVATE"),
        ("http://localhost:5432", "OUTBOUND_ALLOW_LOOPBACK"),
    ],
)
def test_the_admin_form_refuses_addresses_outside_the_policy(admin_client_, settings, url, reason):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    response = admin_client_.post("/admin/dashboard/connection/add/", form_data(url))
    assert response.status_code == 200 and not Connection.objects.exists()
    assert "This address is not allowed" in response.content.decode() and reason in response.content.decode()


def test_the_admin_form_accepts_a_private_address_when_allowed(admin_client_, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    response = admin_client_.post("/admin/dashboard/connection/add/", form_data("http://10.0.0.5:8080"))
    assert response.status_code == 302 and Connection.objects.filter(base_url="http://10.0.0.5:8080").exists()


def test_a_refused_redirect_is_a_problem_of_one_item_but_a_refused_connection_ends_the_sync(servers):
    _, url = servers({"/log": "http://169.254.169.254/"})
    with TokenClient(url, "t") as client:
        with pytest.raises(OutboundRefused) as err:
            follow_redirect(client, "/log")
        assert not isinstance(err.value, CONNECTION_ERRORS)
        with pytest.raises(OutboundRefused) as err:
            client.get("http://169.254.169.254/elsewhere")  # a provider's absolute link
        assert not isinstance(err.value, CONNECTION_ERRORS)
    with TokenClient("http://169.254.169.254", "t", max_attempts=1) as client, pytest.raises(OutboundRefused) as err:
        client.get("/api")
    assert isinstance(err.value, CONNECTION_ERRORS)

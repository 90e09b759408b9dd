"""Sending a rendered notification through a configured service: webhook, email (SMTP), Slack (its
Web API) and GitHub commit statuses (its REST API), with Argo CD's option names.

Every send raises :class:`SendError` on failure; ``retry`` is False only where retrying cannot
help and Argo CD does not retry either (GitHub answering 422: too many statuses for the commit).
Credentials never appear in errors or logs. This module is the notifications controller's only
network edge besides Kubernetes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import smtplib
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiohttp
import jwt

from ferry.gotemplate.gotime import parse_duration
from notifications.config import Service
from notifications.engine import Destination

USER_AGENT = "ferry-notifications-controller"
TIMEOUT = aiohttp.ClientTimeout(total=30)
MAX_ERROR_BODY = 2048


class SendError(Exception):
    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def _ssl(options: dict[str, Any], key: str = "insecureSkipVerify") -> bool:
    """aiohttp's ssl argument: False skips verification (the service's insecureSkipVerify)."""
    return options.get(key) is not True


def _seconds(value: Any, default: float) -> float:
    if value in (None, "", 0):
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1e9  # a Go time.Duration in nanoseconds
    try:
        return int(parse_duration(str(value))) / 1e9
    except ValueError:
        return default


async def _read_error(resp: aiohttp.ClientResponse) -> str:
    data = await resp.content.read(MAX_ERROR_BODY)
    return data.decode("utf-8", "replace")


# --- webhook -----------------------------------------------------------------------------------------


def webhook_request(service: Service, notification: dict[str, Any]) -> tuple[str, str, str]:
    """(method, url, body) as Argo CD builds them: the message as body by GET, overridden by the
    template's ``webhook.<service name>`` method, path (appended to the URL) and body."""
    options = service.options
    base = str(options.get("url") or "")
    if not base:
        raise SendError(f"webhook {service.name}: url is not set", retry=False)
    method, url, body = "GET", base, str(notification.get("message") or "")
    override = (notification.get("webhook") or {}).get(service.name)
    if override is not None:
        body = override.get("body") or ""
        method = override.get("method") or method
        if override.get("path"):
            url = base.rstrip("/") + "/" + str(override["path"]).lstrip("/")
    if urllib.parse.urlsplit(url).netloc != urllib.parse.urlsplit(base).netloc:
        raise SendError(f"webhook {service.name}: the rendered path leaves {base}", retry=False)
    if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        raise SendError(f"webhook {service.name}: unsupported method {method!r}", retry=False)
    return method.upper(), url, body


async def send_webhook(service: Service, notification: dict[str, Any], dest: Destination) -> None:
    options = service.options
    method, url, body = webhook_request(service, notification)
    headers = {"User-Agent": USER_AGENT}
    for header in options.get("headers") or []:
        if isinstance(header, dict) and header.get("name"):
            headers[str(header["name"])] = str(header.get("value") or "")
    auth = None
    basic = options.get("basicAuth")
    if isinstance(basic, dict):
        auth = aiohttp.BasicAuth(str(basic.get("username") or ""), str(basic.get("password") or ""))
    wait_min = _seconds(options.get("retryWaitMin"), 1.0)
    wait_max = _seconds(options.get("retryWaitMax"), 5.0)
    retries = int(options.get("retryMax") or 3)
    last = ""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for attempt in range(retries + 1):
            if attempt:
                await asyncio.sleep(min(wait_max, wait_min * 2 ** (attempt - 1)))
            try:
                async with session.request(
                    method, url, data=body.encode(), headers=headers, auth=auth, ssl=_ssl(options)
                ) as resp:
                    if 200 <= resp.status <= 299:
                        return
                    detail = await _read_error(resp)
                    last = f"request to {method} {url} has failed with error code {resp.status} : {detail}"
                    if resp.status < 500 and resp.status != 429:
                        raise SendError(last)
            except aiohttp.ClientError as err:
                last = f"request to {method} {url} failed: {type(err).__name__}: {err}"
            except TimeoutError:
                last = f"request to {method} {url} timed out"
    raise SendError(f"{last} (after {retries + 1} attempts)")


# --- email -------------------------------------------------------------------------------------------


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_email(service: Service, notification: dict[str, Any], dest: Destination) -> EmailMessage:
    options = service.options
    to = [addr.strip() for addr in dest.recipient.split(",") if addr.strip()]
    if not to:
        raise SendError("email: no recipient", retry=False)
    email = notification.get("email") or {}
    body = email.get("body") or notification.get("message") or ""
    message = EmailMessage()
    try:
        message["From"] = str(options.get("from") or options.get("username") or "")
        message["To"] = ", ".join(to)
        message["Subject"] = str(email.get("subject") or "")
    except ValueError as err:  # a newline in a header: refused rather than injected
        raise SendError(f"email: invalid header: {err}", retry=False) from None
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="ferrycd.io")
    message.set_content(body, subtype="html" if options.get("html") is True else "plain", charset="utf-8")
    return message


def _smtp_send(service: Service, message: EmailMessage) -> None:
    options = service.options
    host = str(options.get("host") or "")
    port = int(options.get("port") or 587)
    if not host:
        raise SendError("email: host is not set", retry=False)
    context = ssl.create_default_context()
    if options.get("insecure_skip_verify") is True:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    username, password = str(options.get("username") or ""), str(options.get("password") or "")
    client: smtplib.SMTP
    try:
        if port == 465:
            client = smtplib.SMTP_SSL(host, port, timeout=30, context=context)
            encrypted = True
        else:
            client = smtplib.SMTP(host, port, timeout=30)
            encrypted = False
        with client:
            client.ehlo()
            if not encrypted and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                encrypted = True
            if username:
                if not encrypted and not _loopback(host):
                    raise SendError(
                        "email: refusing to send credentials over an unencrypted connection", retry=False
                    )
                client.login(username, password)
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as err:
        raise SendError(f"email: authentication failed: {err.smtp_code}") from None
    except smtplib.SMTPException as err:
        raise SendError(f"email: {type(err).__name__}: {err}") from None
    except ssl.SSLError as err:
        raise SendError(f"email: TLS: {err.reason or err}") from None
    except OSError as err:
        raise SendError(f"email: cannot reach {host}:{port}: {err.strerror or err}") from None


async def send_email(service: Service, notification: dict[str, Any], dest: Destination) -> None:
    message = build_email(service, notification, dest)
    await asyncio.to_thread(_smtp_send, service, message)


# --- Slack -------------------------------------------------------------------------------------------


@dataclass
class _Thread:
    ts: str
    channel: str


_SLACK_THREADS: dict[tuple[str, str, str], _Thread] = {}


def slack_payload(service: Service, notification: dict[str, Any], channel: str) -> dict[str, Any]:
    options = service.options
    slack = notification.get("slack") or {}
    payload: dict[str, Any] = {"channel": channel, "text": notification.get("message") or ""}
    username = slack.get("username") or options.get("username")
    if username:
        payload["username"] = username
    icon = slack.get("icon") or options.get("icon")
    if icon:
        if icon.startswith(":") and icon.endswith(":") and len(icon) > 2:
            payload["icon_emoji"] = icon
        elif urllib.parse.urlsplit(icon).scheme in ("http", "https"):
            payload["icon_url"] = icon
    for key in ("attachments", "blocks"):
        raw = slack.get(key)
        if raw:
            try:
                payload[key] = json.loads(raw)
            except ValueError as err:
                raise SendError(f"failed to unmarshal {key} '{raw[:200]}' : {err}") from None
    if options.get("disableUnfurl") is True:
        payload["unfurl_links"] = False
        payload["unfurl_media"] = False
    return payload


async def send_slack(service: Service, notification: dict[str, Any], dest: Destination) -> None:
    options = service.options
    token = str(options.get("token") or "")
    if not token:
        raise SendError("slack: token is not set", retry=False)
    api = str(options.get("apiURL") or "https://slack.com/api/")
    if not api.endswith("/"):
        api += "/"
    payload = slack_payload(service, notification, dest.recipient)
    slack = notification.get("slack") or {}
    grouping = str(slack.get("groupingKey") or "")
    policy = str(slack.get("deliveryPolicy") or "Post")
    thread_key = (service.name, dest.recipient, grouping)
    thread = _SLACK_THREADS.get(thread_key) if grouping else None
    headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:

        async def call(method: str, body: dict[str, Any]) -> dict[str, Any]:
            try:
                async with session.post(api + method, json=body, headers=headers, ssl=_ssl(options)) as resp:
                    if resp.status == 429:
                        raise SendError(
                            f"slack: rate limited (retry after {resp.headers.get('Retry-After', '?')}s)"
                        )
                    if resp.status != 200:
                        raise SendError(f"slack: {method} answered {resp.status}: {await _read_error(resp)}")
                    answer = await resp.json(content_type=None)
            except aiohttp.ClientError as err:
                raise SendError(f"slack: {method} failed: {type(err).__name__}: {err}") from None
            except TimeoutError:
                raise SendError(f"slack: {method} timed out") from None
            if not isinstance(answer, dict) or not answer.get("ok"):
                error = answer.get("error") if isinstance(answer, dict) else "unreadable answer"
                raise SendError(f"slack: {method}: {error}")
            return answer

        if thread is None or policy in ("Post", "PostAndUpdate"):
            body = dict(payload)
            if thread is not None:
                body["thread_ts"] = thread.ts
                if slack.get("notifyBroadcast"):
                    body["reply_broadcast"] = True
            answer = await call("chat.postMessage", body)
            if grouping and thread is None:
                _SLACK_THREADS[thread_key] = _Thread(
                    str(answer.get("ts") or ""), str(answer.get("channel") or "")
                )
        if thread is not None and policy in ("Update", "PostAndUpdate"):
            await call(
                "chat.update", {**payload, "channel": thread.channel or dest.recipient, "ts": thread.ts}
            )


# --- GitHub ------------------------------------------------------------------------------------------

_GITHUB_TOKENS: dict[tuple[str, str, str], tuple[str, float]] = {}


def repo_owner_and_name(repo_url: str) -> tuple[str, str]:
    from notifications.engine import _repo_full_name  # noqa: PLC0415

    parts = _repo_full_name(repo_url).split("/")
    if len(parts) < 2 or not all(parts[:2]):
        raise SendError(f"GitHub.repoURL ({repo_url}) does not have a `/`", retry=False)
    return parts[0], parts[1]


def _truncate(message: str, limit: int) -> str:
    return message[: limit - 3] + "..." if len(message) > limit else message


async def _github_token(session: aiohttp.ClientSession, options: dict[str, Any], base: str) -> str:
    if options.get("token"):
        return str(options["token"])
    app_id, installation = str(options.get("appID") or ""), str(options.get("installationID") or "")
    key = str(options.get("privateKey") or "")
    if not (app_id and installation and key):
        raise SendError("github: appID, installationID and privateKey (or token) are required", retry=False)
    cache_key = (base, app_id, installation)
    cached = _GITHUB_TOKENS.get(cache_key)
    if cached and cached[1] > time.time() + 60:
        return cached[0]
    now = int(time.time())
    try:
        assertion = jwt.encode({"iat": now - 60, "exp": now + 540, "iss": app_id}, key, algorithm="RS256")
    except (ValueError, TypeError) as err:
        raise SendError(f"github: the private key is not usable: {type(err).__name__}", retry=False) from None
    url = f"{base}/app/installations/{urllib.parse.quote(installation, safe='')}/access_tokens"
    headers = {
        "Authorization": f"Bearer {assertion}",
        "Accept": "application/vnd.github+json",
        "User-Agent": USER_AGENT,
    }
    async with session.post(url, headers=headers, ssl=_ssl(options)) as resp:
        if resp.status != 201:
            raise SendError(f"github: installation token: {resp.status}: {await _read_error(resp)}")
        answer = await resp.json(content_type=None)
    token = str(answer.get("token") or "")
    expires = time.time() + 3000
    _GITHUB_TOKENS[cache_key] = (token, expires)
    return token


async def send_github(service: Service, notification: dict[str, Any], dest: Destination) -> None:
    options = service.options
    github = notification.get("github")
    if not github:
        raise SendError("config is empty", retry=False)
    owner, repo = repo_owner_and_name(str(github.get("repoURL") or ""))
    revision = str(github.get("revision") or "")
    if not revision:
        raise SendError("github: no revision to set a status on", retry=False)
    base = str(options.get("enterpriseBaseURL") or "https://api.github.com").rstrip("/")
    status = github.get("status")
    if not status:
        return
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        try:
            token = await _github_token(session, options, base)
            quote = urllib.parse.quote
            url = f"{base}/repos/{quote(owner)}/{quote(repo)}/statuses/{quote(revision)}"
            body = {
                "state": status.get("state") or "",
                "description": _truncate(str(notification.get("message") or ""), 140),
                "context": status.get("label") or "",
                "target_url": status.get("targetURL") or "",
            }
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": USER_AGENT,
            }
            async with session.post(url, json=body, headers=headers, ssl=_ssl(options)) as resp:
                if resp.status == 422:
                    raise SendError(
                        f"github: too many statuses for {revision} ({status.get('label')}): not retried",
                        retry=False,
                    )
                if resp.status != 201:
                    raise SendError(f"github: POST {url} answered {resp.status}: {await _read_error(resp)}")
        except aiohttp.ClientError as err:
            raise SendError(f"github: {type(err).__name__}: {err}") from None
        except TimeoutError:
            raise SendError("github: request timed out") from None


SENDERS = {"webhook": send_webhook, "email": send_email, "slack": send_slack, "github": send_github}


async def send(service: Service, notification: dict[str, Any], dest: Destination) -> None:
    sender = SENDERS.get(service.type)
    if sender is None:
        raise SendError(f"service type {service.type!r} is not supported", retry=False)
    await sender(service, notification, dest)


_unused = contextlib

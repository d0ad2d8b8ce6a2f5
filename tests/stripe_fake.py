"""A local fake of the parts of the Stripe API Portico uses: a threading HTTP server on 127.0.0.1
that the official `stripe` library is pointed at (`STRIPE_API_BASE`), recording every request so
tests can check what was sent (and that nothing about a client's care was).

It keeps Checkout Sessions, PaymentIntents, charges, SetupIntents, payment methods, customers and
webhook endpoints in memory, answers a repeated Idempotency-Key with its first answer, and signs
webhook events the way Stripe does (`t=…,v1=HMAC-SHA256(secret, "t.payload")`). `/pay/<id>` is a
tiny Checkout page: submitting it completes the session, delivers the signed event to the app and
redirects to the session's success URL.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_fake{next(_ids):06d}"


def sign(payload: str, secret: str, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def nest(pairs) -> dict:
    """Stripe's form encoding (a[b][0][c]=v) back into a dict of dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class FakeStripe:
    def __init__(self):
        self.requests: list[dict] = []
        self.objects: dict[str, dict] = {}
        self.idempotent: dict[str, tuple[int, dict]] = {}
        self.secret: str | None = None
        self.deliver_to: tuple[str, str] | None = None  # (app base URL, Host header) for /pay pages
        self.need_authentication = False  # off-session charges answer authentication_required
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # What tests look at -------------------------------------------------------------------------

    def sent_text(self) -> str:
        """Everything Portico sent to Stripe, as one string (paths and bodies)."""
        return "\n".join(f"{r['method']} {r['path']} {r['raw']}" for r in self.requests)

    def calls(self, method: str, path_start: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"].startswith(path_start)]

    # Making things happen, as Stripe would ------------------------------------------------------

    def event(self, kind: str, obj: dict, event_id: str | None = None) -> tuple[str, str]:
        """(payload, Stripe-Signature) of an event about `obj`, signed with the endpoint's secret."""
        payload = json.dumps(
            {
                "id": event_id or new_id("evt"),
                "object": "event",
                "type": kind,
                "api_version": "2024-06-20",
                "created": int(time.time()),
                "data": {"object": obj},
            }
        )
        return payload, sign(payload, self.secret)

    def complete(self, session_id: str, card: str = "visa") -> dict:
        """The customer finishes Checkout: the session completes, with its PaymentIntent or card."""
        session = self.objects[session_id]
        session["status"] = "complete"
        if session["mode"] == "payment":
            intent = self._intent(
                session["amount_total"], session["currency"], session["payment_intent_data_metadata"]
            )
            session["payment_intent"], session["payment_status"] = intent["id"], "paid"
        else:
            method = {
                "id": new_id("pm"),
                "object": "payment_method",
                "card": {"brand": card, "last4": "4242"},
            }
            self.objects[method["id"]] = method
            setup = {
                "id": new_id("seti"),
                "object": "setup_intent",
                "status": "succeeded",
                "payment_method": method["id"],
            }
            self.objects[setup["id"]] = setup
            session["setup_intent"] = setup["id"]
        return session

    def expire(self, session_id: str) -> dict:
        session = self.objects[session_id]
        session["status"] = "expired"
        return session

    def refund_charge(self, intent_id: str, amount: int) -> dict:
        charge = self.objects[self.objects[intent_id]["latest_charge"]]
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return charge

    def _intent(self, amount: int, currency: str, metadata: dict, status: str = "succeeded") -> dict:
        charge = {
            "id": new_id("ch"),
            "object": "charge",
            "amount": amount,
            "amount_refunded": 0,
            "refunded": False,
            "currency": currency,
        }
        intent = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount if status == "succeeded" else 0,
            "currency": currency,
            "status": status,
            "metadata": metadata,
            "latest_charge": charge["id"],
        }
        charge["payment_intent"] = intent["id"]
        self.objects[charge["id"]] = charge
        self.objects[intent["id"]] = intent
        return intent

    # The API ------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if parts[0] != "v1":
            return 404, {"error": {"type": "invalid_request_error", "message": "no such path"}}
        parts = parts[1:]
        if method == "GET" and len(parts) >= 2:
            obj = self.objects.get(parts[-1])
            if obj is None:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such object"}}
            obj = json.loads(json.dumps(obj))
            for field in params.get("expand", []) if isinstance(params.get("expand"), list) else []:
                if isinstance(obj.get(field), str) and obj[field] in self.objects:
                    obj[field] = self.objects[obj[field]]
            return 200, obj
        if parts == ["webhook_endpoints"] and method == "POST":
            self.secret = "whsec_" + new_id("secret")
            endpoint = {
                "id": new_id("we"),
                "object": "webhook_endpoint",
                "url": params["url"],
                "secret": self.secret,
            }
            self.objects[endpoint["id"]] = {k: v for k, v in endpoint.items() if k != "secret"}
            return 200, endpoint
        if parts[0] == "webhook_endpoints" and method == "DELETE":
            self.objects.pop(parts[1], None)
            return 200, {"id": parts[1], "object": "webhook_endpoint", "deleted": True}
        if parts == ["customers"]:
            customer = {"id": new_id("cus"), "object": "customer", "metadata": params.get("metadata", {})}
            self.objects[customer["id"]] = customer
            return 200, customer
        if parts == ["checkout", "sessions"]:
            return 200, self._session(params)
        if parts[:2] == ["checkout", "sessions"] and parts[-1] == "expire" and parts[2] in self.objects:
            session = self.objects[parts[2]]
            if session["status"] != "open":
                return 400, {"error": {"type": "invalid_request_error", "message": "not open"}}
            session["status"] = "expired"
            return 200, session
        if parts == ["payment_intents"]:
            if self.need_authentication:
                intent = self._intent(
                    int(params["amount"]), params["currency"], params.get("metadata", {}), "requires_action"
                )
                return 402, {
                    "error": {
                        "type": "card_error",
                        "code": "authentication_required",
                        "message": "This payment requires authentication.",
                        "payment_intent": intent,
                    }
                }
            return 200, self._intent(int(params["amount"]), params["currency"], params.get("metadata", {}))
        if parts == ["refunds"]:
            charge = self.refund_charge(params["payment_intent"], int(params["amount"]))
            return 200, {
                "id": new_id("re"),
                "object": "refund",
                "amount": int(params["amount"]),
                "charge": charge["id"],
            }
        if parts[0] == "payment_methods" and parts[-1] == "detach":
            return 200, self.objects.get(parts[1], {"id": parts[1], "object": "payment_method"})
        return 404, {"error": {"type": "invalid_request_error", "message": "not faked"}}

    def _session(self, params: dict) -> dict:
        session_id = new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params["mode"],
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{self.base}/pay/{session_id}",
            "metadata": params.get("metadata", {}),
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "payment_intent": None,
            "setup_intent": None,
            "currency": params.get("currency"),
        }
        if params["mode"] == "payment":
            item = params["line_items"][0]["price_data"]
            session["amount_total"] = int(item["unit_amount"])
            session["currency"] = item["currency"]
            session["payment_intent_data_metadata"] = params.get("payment_intent_data", {}).get(
                "metadata", {}
            )
        self.objects[session_id] = session
        return session

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body, content_type="application/json", headers=None):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str):
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if url.path.startswith("/pay/"):
                    return self._checkout_page(method, url.path.split("/")[2])
                params = nest(parse_qsl(raw or url.query, keep_blank_values=True))
                key = self.headers.get("Idempotency-Key")
                fake.requests.append(
                    {
                        "method": method,
                        "path": url.path,
                        "raw": raw,
                        "params": params,
                        "idempotency_key": key,
                        "authorization": self.headers.get("Authorization", ""),
                    }
                )
                if key and method == "POST" and key in fake.idempotent:
                    return self._reply(*fake.idempotent[key])
                status, body = fake.answer(method, url.path, params)
                if key and method == "POST":
                    fake.idempotent[key] = (status, body)
                self._reply(status, body)

            def _checkout_page(self, method: str, session_id: str):
                session = fake.objects.get(session_id)
                if session is None:
                    return self._reply(404, b"no such session", "text/plain")
                if method == "GET":
                    page = (
                        "<!doctype html><html lang='en'><head><title>Fake Checkout</title></head><body>"
                        f"<main><h1>Fake Checkout</h1><form method='post' action='/pay/{session_id}'>"
                        "<button type='submit'>Pay now</button></form></main></body></html>"
                    )
                    return self._reply(200, page.encode(), "text/html")
                fake.complete(session_id)
                fake.deliver("checkout.session.completed", session)
                self._reply(303, b"", "text/plain", {"Location": session["success_url"]})

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        return Handler

    def deliver(self, kind: str, obj: dict) -> int:
        """Post a signed event to the app (`deliver_to`), as Stripe's webhook sender would."""
        payload, signature = self.event(kind, obj)
        base, host = self.deliver_to
        request = urllib.request.Request(
            f"{base}/webhooks/stripe",
            data=payload.encode(),
            headers={"Stripe-Signature": signature, "Content-Type": "application/json", "Host": host},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

"""A visitor without a browser: Streamlit's own websocket protocol, spoken as the browser speaks it.

Twenty Chromium pages on two cores measure the browsers, not the server
they draw on. This client costs the server what a browser's page costs it
(a test and the capacity benchmark check that), and the machine almost
nothing, so hundreds of visitors fit where a few browsers did.

What a page does, and so what this does:

- `connect`: fetch `/_stcore/health` for the XSRF cookie, open the
  websocket `/_stcore/stream` with the subprotocols `["streamlit", token]`
  and an `Origin` header, and ask for the first run (`rerun_script` with the
  query string and no widget states);
- read `ForwardMsg`s until `script_finished`: `new_session` names the
  page (`page_script_hash`), each `delta` an element at a path, with the
  fragment it belongs to; a widget's element says its id, its type and its
  default value, which later runs send back as the browser would (radio a
  `string_value`, pills and segmented controls a `string_array_value`,
  sliders a `double_array_value`, a component v2 a `json_value`);
- `rerun`: send every mounted widget's value, optionally only for a
  fragment (`fragment_id`; the server drops an unknown one silently, and a
  fragment id is known only after a full run in that session); a fragment
  run ends with `FINISHED_FRAGMENT_RUN_SUCCESSFULLY`, a full one with
  `FINISHED_SUCCESSFULLY`;
- `press`: a button's click is a `trigger_value` sent once (a form's
  submit button sends the form's values with it);
- `auto_reruns`: a fragment with `run_every` asks the browser (`auto_rerun`)
  to rerun it every so often, which `rerun_due` does;
- `upload`: a file for a `file_uploader`, as the browser sends it: ask for
  an upload URL (`file_urls_request`), PUT the file there with the XSRF
  header, then rerun with the uploader's `file_uploader_state_value`.

The client never claims cached messages (`cached_message_hashes` stays
empty), so every element arrives in full. Media URLs in elements are
relative to the page: `media` fetches one as the browser does.
"""

from __future__ import annotations

import http.cookiejar
import json
import select
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

import websocket
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

RECONNECT_FOR_S = 15  # how long `reconnect` keeps trying, as the page's own reconnection does

XSRF_COOKIE = "_streamlit_xsrf"
FINISHED = {
    getattr(ForwardMsg, name): name
    for name in (
        "FINISHED_SUCCESSFULLY",
        "FINISHED_WITH_COMPILE_ERROR",
        "FINISHED_EARLY_FOR_RERUN",
        "FINISHED_FRAGMENT_RUN_SUCCESSFULLY",
    )
}


class ProtocolError(Exception):
    """The server did not answer as a Streamlit page does (closed, timed out, or never finished a run)."""


@dataclass
class Widget:
    """A mounted widget: its id, its element type and the value a browser would send for it."""

    id: str
    kind: str
    state: WidgetState | None  # None: the browser sends nothing for it until it is used (buttons, uploads)
    form: str = ""
    label: str = ""


@dataclass
class Run:
    """What one rerun returned: its elements, its widgets, how it ended and how long it took."""

    status: str
    seconds: float
    elements: list = field(default_factory=list)  # (delta path, fragment id, Element)
    fragments: set = field(default_factory=set)
    started: set = field(default_factory=set)  # ids of the runs that began while this one was read

    def find(self, kind: str) -> list:
        return [getattr(element, kind) for _, _, element in self.elements if element.WhichOneof("type") == kind]

    def metric(self, label: str) -> str | None:
        return next((m.body for m in self.find("metric") if m.label == label), None)

    def media_urls(self) -> list[str]:
        return [image.url for images in self.find("imgs") for image in images.imgs]

    def exceptions(self) -> list[str]:
        return [e.message for e in self.find("exception")]


def default_state(kind: str, element) -> WidgetState | None:
    """The value a browser sends for a widget it has just mounted, in the type the server registered."""
    widget = getattr(element, kind)
    state = WidgetState(id=widget.id)
    if kind == "slider":
        state.double_array_value.data[:] = list(widget.value if widget.set_value else widget.default)
    elif kind == "radio":
        index = widget.default if widget.HasField("default") else None
        if widget.raw_value:
            state.string_value = widget.raw_value
        elif index is not None and index < len(widget.options):
            state.string_value = widget.options[index]
        else:
            return None
    elif kind == "button_group":
        values = list(widget.raw_values) or [widget.options[i].content for i in widget.default]
        state.string_array_value.data[:] = values
    elif kind == "selectbox":
        if widget.raw_value:
            state.string_value = widget.raw_value
        elif widget.HasField("default") and widget.default < len(widget.options):
            state.string_value = widget.options[widget.default]
        else:
            return None
    elif kind == "checkbox":
        state.bool_value = widget.value if widget.set_value else widget.default
    elif kind == "text_input":
        state.string_value = widget.value if widget.set_value else widget.default
    elif kind == "number_input":
        value = widget.value if widget.set_value else widget.default
        if widget.data_type == widget.INT:
            state.int_value = int(value)
        else:
            state.double_value = value
    else:  # buttons, uploads, downloads, components: nothing until a person uses them
        return None
    return state


def widget_id(element) -> tuple[str, str] | None:
    kind = element.WhichOneof("type")
    if kind == "bidi_component":
        return kind, element.bidi_component.id
    widget = getattr(element, kind, None)
    wid = getattr(widget, "id", "") if widget is not None else ""
    return (kind, wid) if wid else None


class _FromSource(urllib.request.HTTPHandler):
    """urllib's HTTP, connecting from a given local address."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def http_open(self, request):
        import functools
        import http.client

        return self.do_open(functools.partial(http.client.HTTPConnection, source_address=(self.source, 0)), request)


class Session:
    """One visitor's connection to a Streamlit page at `url` (e.g. `http://127.0.0.1:8501/?samples=…`)."""

    def __init__(self, url: str, timeout_s: float = 15.0, source: str | None = None, forwarded_for: str | None = None):
        """`source`: the local address to connect from (127.x.y.z: another visitor's address on loopback);
        `forwarded_for`: an X-Forwarded-For to send, as a proxy in front would."""
        parts = urllib.parse.urlsplit(url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path.rstrip("/")
        self.query = parts.query
        self.timeout_s = timeout_s
        self.source = source
        self.headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        self.cookies = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.cookies)]
        if source:
            handlers.append(_FromSource(source))
        self.http = urllib.request.build_opener(*handlers)
        self.http.addheaders = list(self.headers.items())
        self.ws: websocket.WebSocket | None = None
        self.page_script_hash = ""
        self.widgets: dict[str, Widget] = {}
        self.values: dict[str, WidgetState] = {}  # what this visitor has set (over the widgets' defaults)
        self.auto_reruns: dict[str, tuple[float, float]] = {}  # fragment id → (interval s, next due, monotonic)
        self.session_id: str | None = None
        self.xsrf: str | None = None
        self._last_finished_run = ""
        self.file_urls: dict[str, object] = {}  # request id → FileURLs, from file_urls_response
        self.bytes_sent = 0
        self.bytes_received = 0

    # -- the connection

    def set_cookie(self, name: str, value: str) -> None:
        """A cookie the browser already holds for this site (e.g. the proxy's choice of replica)."""
        host = urllib.parse.urlsplit(self.base).hostname or ""
        self.cookies.set_cookie(
            http.cookiejar.Cookie(
                0, name, value, None, False, host, False, False, "/", True, False, None, False, None, None, {}
            )
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def connect(self, resume: str | None = None) -> Run:
        """Open the page as a browser does and return its first run (`resume`: a session id to ask back)."""
        with self.http.open(f"{self.base}{self.path}/_stcore/health", timeout=self.timeout_s) as response:
            response.read()
        token = self.xsrf = next((c.value for c in self.cookies if c.name == XSRF_COOKIE), None)
        if token is None:
            raise ProtocolError("The server set no XSRF cookie at /_stcore/health.")
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        ws_url = self.base.replace("http", "ws", 1) + f"{self.path}/_stcore/stream"
        try:
            self.ws = websocket.create_connection(
                ws_url,
                subprotocol=None,
                subprotocols=["streamlit", token, *([resume] if resume else [])],
                origin=self.base,
                cookie=cookie,
                header=[f"{k}: {v}" for k, v in self.headers.items()],
                timeout=self.timeout_s,
                enable_multithread=False,
                **({"socket": self._socket()} if self.source else {}),
            )
        except (OSError, websocket.WebSocketException) as error:
            raise ProtocolError(f"Could not open the websocket: {error}") from None
        return self.rerun()

    def _socket(self):
        """A TCP connection to the server from `self.source`, for the websocket to speak over."""
        import socket

        parts = urllib.parse.urlsplit(self.base)
        connection = socket.create_connection(
            (parts.hostname, parts.port or 80), timeout=self.timeout_s, source_address=(self.source, 0)
        )
        return connection

    def reconnect(self) -> Run:
        """Open a new websocket after the old one was lost, as the page does: same cookies, same URL.

        The page asks to resume its session (its id in the subprotocols); a
        server that does not know it (another replica, a restart) starts a new
        one, and the widgets the new run mounts replace the old ones.
        """
        self.close()
        self.widgets, self.values, self.auto_reruns = {}, {}, {}
        previous = self.session_id
        # Like the page, it tries again for a while: just after a replica dies, the proxy may still answer
        # for it (a 502 or 503) until its health checks or its retries send the page elsewhere.
        deadline = time.monotonic() + RECONNECT_FOR_S
        while True:
            try:
                return self.connect(resume=previous)
            except (OSError, ProtocolError):  # urllib's HTTP and URL errors are OSErrors
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except (OSError, websocket.WebSocketException):
                pass
            self.ws = None

    # -- runs

    def set(self, kind: str, label_or_key: str, value) -> None:
        """Give a widget a value, as a person's click or typing does (sent with every later rerun)."""
        widget = self.widget(kind, label_or_key)
        state = WidgetState(id=widget.id)
        field = widget.state.WhichOneof("value") if widget.state is not None else None
        if kind == "button_group":
            state.string_array_value.data[:] = [str(v) for v in value]
        elif kind == "slider":
            state.double_array_value.data[:] = [float(value)]
        elif field in ("int_value", "double_value", "bool_value", "string_value"):
            setattr(state, field, value)
        else:
            raise ProtocolError(f"This client cannot set a {kind} widget.")
        self.values[widget.id] = state

    def set_json(self, widget_id: str, value: dict) -> None:
        """Give a component (v2) a new value, as its frontend does (e.g. the canvas after a stroke)."""
        self.values[widget_id] = WidgetState(id=widget_id, json_value=json.dumps(value, separators=(",", ":")))

    def widget(self, kind: str, label_or_key: str | None = None) -> Widget:
        """The first mounted widget of `kind` whose label is `label_or_key` or whose id mentions it (a key)."""
        for widget in self.widgets.values():
            if widget.kind == kind and (label_or_key is None or label_or_key == widget.label):
                return widget
        for widget in self.widgets.values():
            if widget.kind == kind and label_or_key in widget.id:
                return widget
        raise ProtocolError(f"No {kind} widget {label_or_key or ''} on the page.")

    def press(self, kind: str, label_or_key: str, fragment_id: str = "") -> Run:
        """Click a button (its trigger is sent with this rerun only); a form's submit button sends the form too."""
        button = self.widget(kind, label_or_key)
        trigger = WidgetState(id=button.id, trigger_value=True)
        return self.rerun(fragment_id, extra=[trigger])

    def rerun_due(self) -> list[Run]:
        """Rerun each fragment whose `auto_rerun` interval has passed, as the browser's timer does."""
        runs = []
        for fragment_id, (interval, due) in list(self.auto_reruns.items()):
            if time.monotonic() >= due and fragment_id in self.auto_reruns:
                self.auto_reruns[fragment_id] = (interval, time.monotonic() + interval)
                runs.append(self.rerun(fragment_id, auto=True))
        return runs

    def rerun(self, fragment_id: str = "", extra: list[WidgetState] = (), auto: bool = False) -> Run:
        """Send every mounted widget's value (a fragment's run if `fragment_id`) and read until that run ends."""
        if self.ws is None:
            raise ProtocolError("Not connected.")
        self._drain()  # what a run the server started itself (st.rerun in a fragment) sent meanwhile
        message = BackMsg()
        client = message.rerun_script
        client.query_string = self.query
        client.page_script_hash = self.page_script_hash
        client.fragment_id = fragment_id
        client.is_auto_rerun = auto
        context = client.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.url = f"{self.base}{self.path}/" + (f"?{self.query}" if self.query else "")
        states = {w.id: w.state for w in self.widgets.values() if w.state is not None}
        states.update(self.values)
        states.update({state.id: state for state in extra})
        client.widget_states.widgets.extend(states.values())
        started = time.perf_counter()
        self._send(message)
        wanted = "FINISHED_FRAGMENT_RUN_SUCCESSFULLY" if fragment_id else "FINISHED_SUCCESSFULLY"
        run = self._read(until=wanted)
        run.seconds = time.perf_counter() - started
        return run

    def _send(self, message: BackMsg) -> None:
        data = message.SerializeToString()
        try:
            self.ws.send_binary(data)
        except (OSError, websocket.WebSocketException) as error:
            raise ProtocolError(f"The websocket closed: {error}") from None
        self.bytes_sent += len(data)

    def _drain(self) -> None:
        """Read whatever has arrived without waiting (e.g. a full run the server started itself)."""
        run = Run(status="", seconds=0.0)
        if self.ws.sock is None:  # the server closed it (a page it refused, a server restarted)
            raise ProtocolError("The websocket closed.")
        self.ws.settimeout(self.timeout_s)
        try:
            while select.select([self.ws.sock], [], [], 0)[0]:
                self._receive(run)
        except (OSError, ValueError, websocket.WebSocketException) as error:
            raise ProtocolError(f"The websocket closed: {error}") from None

    def _read(self, until: str | None = None, file_request: str | None = None) -> Run:
        """Read until a run ends with `until` (a fragment's run and a full run end differently),
        or until the answer to the file-URL request `file_request` arrives."""
        run = Run(status="", seconds=0.0)
        deadline = time.monotonic() + self.timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError(f"No end of the run within {self.timeout_s:.0f} s.")
            self.ws.settimeout(remaining)
            try:
                status = self._receive(run)
            except websocket.WebSocketTimeoutException:
                raise ProtocolError(f"No end of the run within {self.timeout_s:.0f} s.") from None
            except (OSError, websocket.WebSocketException) as error:
                raise ProtocolError(f"The websocket closed: {error}") from None
            if status is not None and self._ends(run, status, until):
                run.status = status
                return run
            if file_request is not None and file_request in self.file_urls:
                return run

    def _ends(self, run: Run, status: str, until: str | None) -> bool:
        """Whether a run's end is the end of the run asked for.

        A fragment's run that calls `st.rerun()` becomes a full run, which ends
        as one; a run the server started before the request (one a fragment
        asked for itself) ended before ours began: its id was not seen starting.
        """
        if until is None or status == "FINISHED_EARLY_FOR_RERUN":
            return False
        finished = self._last_finished_run
        if finished and finished not in run.started:
            return False
        return status == until or (status == "FINISHED_SUCCESSFULLY" and bool(run.started))

    def _receive(self, run: Run) -> str | None:
        """Read one message into `run` and this session; return a run's end status if it was one."""
        opcode, data = self.ws.recv_data(control_frame=True)  # a ping is answered (pong) and returned
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise ProtocolError("The server closed the websocket.")
        if opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            return None
        self.bytes_received += len(data)
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.page_script_hash = msg.new_session.page_script_hash or self.page_script_hash
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            run.started.add(msg.metadata.run.script_run_id)
            if not msg.metadata.run.fragment_ids:  # a full run: fragments ask for their timers again
                self.auto_reruns.clear()
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            run.elements.append((tuple(msg.metadata.delta_path), msg.delta.fragment_id, element))
            if msg.delta.fragment_id:
                run.fragments.add(msg.delta.fragment_id)
            found = widget_id(element)
            if found:
                kind_, wid = found
                widget = getattr(element, kind_)
                self.widgets[wid] = Widget(
                    wid,
                    kind_,
                    default_state(kind_, element),
                    getattr(widget, "form_id", ""),
                    getattr(widget, "label", ""),
                )
        elif kind == "auto_rerun":
            interval = msg.auto_rerun.interval
            self.auto_reruns[msg.auto_rerun.fragment_id] = (interval, time.monotonic() + interval)
        elif kind == "stop_auto_rerun":
            self.auto_reruns.pop(msg.stop_auto_rerun.fragment_id, None)
        elif kind == "page_info_changed":  # the page changed its URL's query (st.query_params): so does the browser
            self.query = msg.page_info_changed.query_string
        elif kind == "file_urls_response":
            self.file_urls[msg.file_urls_response.response_id] = msg.file_urls_response
        elif kind == "script_finished":
            self._last_finished_run = msg.metadata.run.script_run_id
            return FINISHED.get(msg.script_finished, str(msg.script_finished))
        return None

    # -- uploads

    def upload(self, label_or_key: str | None, name: str, data: bytes, fragment_id: str = "") -> Run:
        """Give the file uploader `name` with `data`, as a browser does, and return the rerun that reads it."""
        uploader = self.widget("file_uploader", label_or_key)
        request = BackMsg()
        request_id = uuid.uuid4().hex
        request.file_urls_request.request_id = request_id
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = self.session_id or ""
        self._send(request)
        self._read(file_request=request_id)
        answer = self.file_urls.pop(request_id)
        if answer.error_msg or not answer.file_urls:
            raise ProtocolError(f"The server gave no upload URL: {answer.error_msg}")
        urls = answer.file_urls[0]
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        put = urllib.request.Request(
            urls.upload_url if urls.upload_url.startswith("http") else f"{self.base}{urls.upload_url}",
            data=body,
            method="PUT",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": self.xsrf or ""},
        )
        with self.http.open(put, timeout=self.timeout_s) as response:
            response.read()
        state = WidgetState(id=uploader.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        self.values[uploader.id] = state
        return self.rerun(fragment_id)

    # -- media

    def media(self, url: str) -> bytes:
        """Fetch an element's media (an image's URL is relative to the page) as the browser does."""
        if not url.startswith(("http://", "https://")):
            url = f"{self.base}{self.path}/{url.lstrip('/')}"
        with self.http.open(url, timeout=self.timeout_s) as response:
            data = response.read()
        self.bytes_received += len(data)
        return data

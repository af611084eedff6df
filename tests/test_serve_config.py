"""The proxy's configuration (scripts/haproxy.cfg, filled in by scripts/serve.py) is one HAProxy accepts."""

import importlib.util
import subprocess

import pytest

from testkit.chromium import ROOT


def serve_module():
    spec = importlib.util.spec_from_file_location("serve", ROOT / "scripts" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_filled_in_configuration_is_valid_and_sticky(tmp_path):
    serve = serve_module()
    text = serve.proxy_config(["127.0.0.1:9001", "127.0.0.1:9002", "10.0.0.5:8501"], "127.0.0.1:9000")
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    checked = subprocess.run([serve.haproxy(), "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "server r3 10.0.0.5:8501 check cookie r3" in text
    for needed in ("cookie REPLICA insert", "option forwardfor", "option redispatch", "httpchk GET /_stcore/health"):
        assert needed in text
    for guard in (
        "timeout http-request",  # a slow client's headers hold nothing for long
        "sc_conn_cur(0) gt",  # connections per source
        "sc_http_req_rate(0) gt",  # requests per source
        "upload { sc_http_req_rate(1) gt",  # uploads per source
        "deny_status 403 if { path_beg /_stcore/metrics }",
        "del-header X-Forwarded-For",  # a client's own word on its address is dropped
    ):
        assert guard in text


def test_a_configuration_haproxy_refuses_is_a_sentence(tmp_path):
    serve = serve_module()
    config = tmp_path / "broken.cfg"
    config.write_text("frontend page\n    bind nowhere:notaport\n")
    with pytest.raises(SystemExit, match="HAProxy refused the configuration"):
        serve.check_config(config)


def test_bad_arguments_end_in_one_line(capsys):
    serve = serve_module()
    with pytest.raises(SystemExit):
        serve.main(["--replicas", "0"])
    assert "--replicas must be 1 to" in capsys.readouterr().err

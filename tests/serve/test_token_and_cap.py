"""migtui serve without a browser: the token, the visitor cap, a port in use."""

from __future__ import annotations

import socket

from migtui.cli import main

from .helpers import Served


def test_the_token_is_required_and_never_logged(shop_db, tmp_path):
    plan = tmp_path / "p.yaml"
    plan.write_text("migtui: 1\nid: p\ntitle: P\ntype: schema_change\nagent: t\n"
                    "targets: {dev: {environment: development}}\n"
                    "steps:\n  - {id: a, sql: SELECT 1, rollback: SELECT 1}\n")
    served = Served(str(plan), "--port", "0", "--dsn", shop_db)
    try:
        assert served.get("/")[0] == 403
        assert served.get("/?token=wrong")[0] == 403
        assert served.get("/static/js/textual.js")[0] == 403
        assert served.get("/ws")[0] == 403
        assert served.get("/", {"Cookie": "migtui_token=nope"})[0] == 403
        status, page = served.get(f"/?token={served.token}")
        assert status == 200 and "/ws" in page and served.token not in page
        status, _js = served.get("/static/js/textual.js",
                                 {"Cookie": f"migtui_token={served.token}"})
        assert status == 200
    finally:
        out = served.stop()
    assert "refused GET / from 127.0.0.1: no token" in out
    assert "refused GET / from 127.0.0.1: wrong token" in out
    assert "wrong" not in out.replace("wrong token", "")  # the given token is not logged
    assert out.count(served.token) == 1  # only in the URL printed at start


def test_a_port_in_use_is_one_line_and_exit_2(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code = main(["serve", "demo", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [f"migtui: error: port {port} on 127.0.0.1 is in use"]

from conftest import SITES


def test_smoke(ext):
    page = ext.open_site("chatgpt")
    site = SITES["chatgpt"]
    import json
    exp = json.loads((__import__("conftest").FIXTURES / site["expected"]).read_text())
    print(ext.name, "launch", ext.launch_seconds)
    conv = ext.wait_for_conversation("chatgpt", exp["conversation"]["id"], len(exp["messages"]))
    print(conv)
    print(ext.ext_call("host.status"))

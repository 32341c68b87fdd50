"""The Bolt for Python peer of bench/run: verifies the signature of `/lambda status …` and acks
at once with the same ephemeral Block Kit reply as lambda-pause (BENCH_REPLY_FILE).

Two entry points, both with Bolt's request verification on (the default):
  app:api       AsyncApp behind Bolt's ASGI adapter (uvicorn, or gunicorn + uvicorn workers)
  app:wsgi      App behind Bolt's WSGI adapter (gunicorn sync/gthread workers), with BOLT_MODE=sync

Environment: SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL (the local stand-in for Slack
that answers auth.test), BENCH_REPLY_FILE, BOLT_PROCESS_BEFORE_RESPONSE (default 1).
"""

import json
import logging
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPLY_FILE = os.environ.get("BENCH_REPLY_FILE") or os.path.join(HERE, "..", "fixtures", "status_ack.json")
with open(REPLY_FILE, encoding="utf-8") as f:
    REPLY = json.load(f)

SECRET = os.environ["SLACK_SIGNING_SECRET"]
TOKEN = os.environ.get("SLACK_BOT_TOKEN", "xoxb-bench")
API_URL = os.environ.get("SLACK_API_URL", "https://slack.com/api/")
PATH = "/slack/commands"
# The listener only acks, so Bolt's best setup runs it before responding: with the default
# (False) Bolt runs it in the background and polls for the ack every 10 ms, which adds ~10 ms
# to every answer at low load (slack_bolt/listener/asyncio_runner.py).
PROCESS_BEFORE_RESPONSE = os.environ.get("BOLT_PROCESS_BEFORE_RESPONSE", "1") not in ("0", "false", "")
logging.basicConfig(level=logging.WARNING)

if os.environ.get("BOLT_MODE", "async") == "async":
    from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=TOKEN, base_url=API_URL),
        request_verification_enabled=True,
        process_before_response=PROCESS_BEFORE_RESPONSE,
    )

    @app.command("/lambda")
    async def lambda_command(ack, command):
        await ack(response_type=REPLY["response_type"], text=REPLY["text"], blocks=REPLY["blocks"])

    api = AsyncSlackRequestHandler(app, path=PATH)
else:
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    app = App(
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=API_URL),
        request_verification_enabled=True,
        process_before_response=PROCESS_BEFORE_RESPONSE,
    )

    @app.command("/lambda")
    def lambda_command(ack, command):
        ack(response_type=REPLY["response_type"], text=REPLY["text"], blocks=REPLY["blocks"])

    wsgi = SlackRequestHandler(app, path=PATH)

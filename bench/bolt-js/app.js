// The Bolt for JavaScript peer of bench/run: verifies the signature of `/lambda status …` and
// acks at once with the same ephemeral Block Kit reply as lambda-pause (BENCH_REPLY_FILE).
//
// Production setup: one Node process, Bolt's HTTPReceiver (Node's own http server), request
// verification on, processBeforeResponse off (ack() answers the HTTP request at once).
//
// Environment: SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL (the local stand-in for Slack
// that answers auth.test), PORT, HOST, BENCH_REPLY_FILE. Prints `listening on HOST:PORT`.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { App, HTTPReceiver, LogLevel } = require('@slack/bolt');

const replyFile = process.env.BENCH_REPLY_FILE || path.join(__dirname, '..', 'fixtures', 'status_ack.json');
const reply = JSON.parse(fs.readFileSync(replyFile, 'utf8'));

const receiver = new HTTPReceiver({
  signingSecret: process.env.SLACK_SIGNING_SECRET,
  endpoints: '/slack/commands',
  processBeforeResponse: false,
  logLevel: LogLevel.WARN,
});

const app = new App({
  token: process.env.SLACK_BOT_TOKEN || 'xoxb-bench',
  receiver,
  logLevel: LogLevel.WARN,
  clientOptions: { slackApiUrl: process.env.SLACK_API_URL || 'https://slack.com/api/' },
});

app.command('/lambda', async ({ ack }) => {
  await ack({ response_type: reply.response_type, text: reply.text, blocks: reply.blocks });
});

(async () => {
  const host = process.env.HOST || '127.0.0.1';
  const port = Number(process.env.PORT || 3000);
  await app.start({ port, host });
  console.log(`listening on ${host}:${port}`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});

#!/usr/bin/env python3
"""Writes seeds/verify/seed-*: `Input`s of fuzz_targets/verify.rs encoded the way `arbitrary` 1.x
decodes them (fields in order; string lengths taken from the end of the data; enum tags as
u32 scaled by the variant count; the last field, `body`, is the rest of the data).

Check what a seed decodes to with `cargo fuzz fmt verify seeds/verify/seed-NAME`.
Rerun this after changing `Input` in verify.rs."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


class Enc:
    def __init__(self):
        self.events = []  # ("front", bytes) or ("size", n)

    def raw(self, b):
        self.events.append(("front", bytes(b)))

    def bool(self, v):
        self.raw([1 if v else 0])

    def u8(self, v):
        self.raw([v & 0xFF])

    def i16(self, v):
        self.raw((v & 0xFFFF).to_bytes(2, "little"))

    def tag(self, i, n):
        self.raw(((i * 2**32 + n - 1) // n).to_bytes(4, "little"))

    def string(self, s):
        b = s.encode()
        self.events.append(("size", len(b)))
        self.raw(b)

    def vec_strings(self, items):
        for s in items:
            self.bool(True)
            self.string(s)
        self.bool(False)

    def option(self, value, write):
        self.bool(value is not None)
        if value is not None:
            write(value)

    def finish(self, body):
        # Two passes: size bytes depend on how much data is left when they are read.
        back_len = sum(1 for e in self.events if e[0] == "size")
        for _ in range(3):
            front = b"".join(b for kind, b in self.events if kind == "front")
            total = len(front) + len(body) + back_len
            left, back = total, []
            for kind, value in self.events:
                if kind == "front":
                    left -= len(value)
                    continue
                width = 1 if left <= 256 else 2  # arbitrary_byte_size
                back.append(value.to_bytes(width, "big"))
                left -= width
            new_len = sum(len(b) for b in back)
            if new_len == back_len:
                break
            back_len = new_len
        return front + body + b"".join(reversed(back))


# Tweak variants, in declaration order.
TWEAKS = ["None", "Uppercase", "UppercasePrefix", "FlipChar", "Truncate", "Append", "DropPrefix", "PadLeft"]


def seed(name, secrets, ts, sig, body):
    e = Enc()
    e.vec_strings(secrets)
    e.option(None, None)  # shift: the clock at 1531420618
    if ts[0] == "raw":
        e.tag(0, 2)
        e.string(ts[1])
    else:  # ("near", offset)
        e.tag(1, 2)
        e.i16(ts[1])
        e.u8(0)  # padding
        e.bool(False)  # plus
        e.u8(0)  # zeros
    if sig[0] == "raw":
        e.tag(0, 2)
        e.string(sig[1])
    else:  # ("signed", secret index, tweak, tweak arg)
        e.tag(1, 2)
        e.u8(sig[1])
        e.string("")  # other_secret
        e.option(None, None)  # other_timestamp
        e.bool(False)  # untrimmed
        e.tag(TWEAKS.index(sig[2]), len(TWEAKS))
        if sig[2] == "FlipChar":
            e.u8(sig[3])
    with open(os.path.join(HERE, "verify", "seed-" + name), "wb") as f:
        f.write(e.finish(body))


# slack-morphism's test vector, and Slack's documented secret during a rotation.
MORPHISM = "fa2c05deeef5a4077494e89f54394de0"
SLACK = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"token=x&team_id=T0001&channel_id=C1&user_id=U1&command=%2Flambda&text=status&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F1%2F2"

os.makedirs(os.path.join(HERE, "verify"), exist_ok=True)
seed("valid", [MORPHISM], ("near", 0), ("signed", 0, "None"), b"test-body")
seed("rotation-uppercase-hex", ["old-secret", SLACK], ("near", -300), ("signed", 1, "Uppercase"), BODY)
seed("stale", [SLACK], ("near", 301), ("signed", 0, "None"), BODY)
seed("flipped", [SLACK], ("near", 5), ("signed", 0, "FlipChar", 17), BODY)
seed("junk-headers", [SLACK], ("raw", " 1531420618 "), ("raw", "v0=zz"), b"payload=%7B%7D")

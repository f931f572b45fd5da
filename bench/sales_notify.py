"""bench/sales.py's notification path: each made payment's success notification signed
with the sandbox's own code (twice: the copy must credit nothing), fired by ``wrk`` with a
Lua script at ``/v1/channels/wechat/notify``."""

from __future__ import annotations

import resource
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tongka.config import Settings

# One line per notification: the path, the headers (name\x1fvalue, \x1e between), the body.
NOTIFY_LUA = r"""
local ffi = require("ffi")  -- wrk waits out -d after stop(): time the run itself
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } timespec_t;
           int clock_gettime(int, timespec_t *); ]]
local ts = ffi.new("timespec_t")
local function now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC, in microseconds
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end
local lines, counter = {}, 0
first, last = 0, 0
tid = "0"
ok, refused = 0, 0
local threads = {}
function setup(thread)
  thread:set("tid", tostring(#threads + 1))
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do table.insert(lines, line) end
  counter = tonumber(tid) - 2  -- thread 1: lines 1, 3, 5...; thread 2: 2, 4, 6...
end
function request()
  if first == 0 then first = now() end
  counter = counter + 2  -- each pair's first copy and its duplicate race on two threads
  local line = lines[math.min(counter, #lines)]
  local path, head, body = line:match("([^\t]+)\t([^\t]+)\t(.+)")
  local headers = {}
  for pair in head:gmatch("[^\30]+") do
    local name, value = pair:match("([^\31]+)\31(.*)")
    headers[name] = value
  end
  return wrk.format("POST", path, headers, body)
end
function response(status, headers, body)
  last = now()
  if status == 200 or status == 204 then ok = ok + 1 else refused = refused + 1 end
  if counter >= #lines then wrk.thread:stop() end  -- every line sent (stop works here)
end
function done(summary, latency, requests)
  local a, r, f, l = 0, 0, math.huge, 0
  for _, t in ipairs(threads) do
    a = a + t:get("ok"); r = r + t:get("refused")
    f = math.min(f, t:get("first")); l = math.max(l, t:get("last"))
  end
  io.write(string.format("RESULT %d %d %d %d %d %d\n", a, r,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    l - f))
end
"""


def notification_lines(
    settings: Settings, made: list[dict[str, Any]], amount_minor: int
) -> list[str]:
    """Each made payment's success notification as the sandbox signs it, twice."""
    from tongka.payments.channel import ChannelName, FundingType
    from tongka.payments.keys import channel_keys
    from tongka.payments.sandbox.base import Faults
    from tongka.payments.sandbox.state import GatewayPayment, GatewayState, transaction_id
    from tongka.payments.sandbox.wechat import WeChatSandbox

    state = GatewayState()
    sandbox = WeChatSandbox(
        state, channel_keys(settings, ChannelName.WECHAT), settings.sandbox_gateway_url
    )
    now = datetime.now(UTC)
    lines = []
    for row in made:
        payment = GatewayPayment(
            channel=ChannelName.WECHAT,
            payment_id=row["payment_id"],
            amount_minor=amount_minor,
            currency="CNY",
            description="bench",
            notify_url="",
            method="NATIVE",
            created_at=now,
            status="SUCCEEDED",
            transaction_id=transaction_id("TX"),
            paid_at=now,
            funding_type=FundingType.BALANCE,
        )
        headers, body = sandbox.notifications(payment, Faults(duplicate=True))[0]
        head = "\x1e".join(f"{name}\x1f{value}" for name, value in headers.items())
        line = f"/v1/channels/wechat/notify\t{head}\t{body.decode()}"
        assert "\n" not in line
        lines += [line, line]
    return lines


def wrk_notifications(lines: list[str], port: int, connections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        script, data = Path(folder) / "n.lua", Path(folder) / "notifications.tsv"
        script.write_text(NOTIFY_LUA)
        data.write_text("\n".join(lines) + "\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                "-d60s",  # the script stops each thread once its lines are sent
                "--timeout",
                "5s",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}",
                "--",
                str(data),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT"))
    ok, refused, p50, p99, sock, duration = (int(x) for x in line.split()[1:])
    seconds = duration / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "done": ok,
        "errors": refused + sock,
        "per_s": ok / seconds,
        "p50": p50 / 1000,
        "p99": p99 / 1000,
        "cpu": cpu / seconds,
    }

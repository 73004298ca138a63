-- wrk script for the login storm (used by scripts/bench.sh):
--   wrk ... -s login.lua http://127.0.0.1:PORT/auth/login -- EMAIL PASSWORD
--
-- Every request is POST /auth/login with the given (correct) credentials as JSON.
-- Responses are classified by status and, for 503, by error code, because wrk's own
-- "Non-2xx" count cannot tell the bcrypt pool's "server_busy" (full hashing queue)
-- from "service_unavailable" (database busy). The email and password must not
-- contain characters that need escaping in JSON (the bench script makes sure).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local email, password = args[1], args[2]
   if not email or not password then
      error("usage: -- EMAIL PASSWORD")
   end
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = string.format('{"email":"%s","password":"%s"}', email, password)
   ok, busy, unavailable, locked, other = 0, 0, 0, 0, 0
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   elseif status == 503 and body and body:find('"server_busy"', 1, true) then
      busy = busy + 1
   elseif status == 503 then
      unavailable = unavailable + 1
   elseif status == 429 then
      locked = locked + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local t = { ok = 0, busy = 0, unavailable = 0, locked = 0, other = 0 }
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + (thread:get(k) or 0)
      end
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
   io.write(string.format(
      "BENCH_LOGINS ok=%d server_busy=%d service_unavailable=%d too_many_attempts=%d other=%d\n",
      t.ok, t.busy, t.unavailable, t.locked, t.other))
end

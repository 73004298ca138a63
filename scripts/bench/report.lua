-- wrk script for plain GET runs (used by scripts/bench.sh).
--
-- Adds nothing to the requests (headers come from wrk's -H), and at the end prints
-- one machine-readable line with exact figures (latencies in microseconds), so the
-- shell does not have to parse wrk's rounded, unit-suffixed text output.
--
-- Optional argument (after `--`): a pause in milliseconds that each connection
-- takes before sending its next request. 0 or absent: closed loop, as fast as the
-- server answers (wrk's default behaviour, no delay() hook is installed).

function init(args)
   local pause = tonumber(args[1] or "0") or 0
   if pause > 0 then
      delay = function() return pause end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end

-- Prepended by lanyard-bench to every step's script: a random seed per wrk thread and one
-- machine-readable result line (latencies in microseconds), which lanyard-bench parses.
--
-- The seeded data follows crates/bench/src/model.rs: session n has the token "bench_st_<n>",
-- is expired when n % 10 == 0 and revoked when n % 20 == 5; identity i has the id
-- 00000000-0000-0000-0000-<i+1 as 12 hex digits> and is deactivated when i % 50 == 7 (so is
-- the identity of session n when n % 50 == 7: the identity count is a multiple of 50).

local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("thread_number", threads)
end

function bench_random_seed()
   math.randomseed(os.time() + 7919 * (thread_number or 0))
   for _ = 1, 16 do math.random() end
end

function bench_active(n)
   return n % 10 ~= 0 and n % 20 ~= 5 and n % 50 ~= 7
end

-- A random active identity below `identities`.
function bench_active_identity(identities)
   local i = math.random(0, identities - 1)
   if i % 50 == 7 then i = (i + 1) % identities end
   return i
end

-- A random end-user address, so per-IP limits see many users as a real deployment would
-- (wrk sends everything from 127.0.0.1).
function bench_ip()
   return string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
end

function bench_identity(i)
   return string.format("00000000-0000-0000-0000-%012x", i + 1)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "LANYARD_BENCH requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d " ..
      "write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

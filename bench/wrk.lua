-- wrk script of `make bench` (bench/load.py runs it).
--
--   wrk -t2 -c64 -d15s --latency -s bench/wrk.lua URL -- ceiling
--   wrk ... -s bench/wrk.lua URL -- record <api key> <file of task ids, one a line>
--   wrk ... -s bench/wrk.lua URL -- create <file of api keys, one a line> <file holding the JSON body>
--   wrk ... -s bench/wrk.lua URL -- floor-read - <file of task ids>
--   wrk ... -s bench/wrk.lua URL -- floor-write
--
-- `record` walks the task ids in turn; `create` posts the same body each
-- time (every request makes a new generation), with the keys in turn (one
-- key: one account for every request). done() prints one JSON line with the
-- figures, read by bench/load.py.

local mode, key, keys, ids, body
local counter = 0

local function lines(path)
  local found = {}
  for line in io.lines(path) do
    if line ~= "" then
      found[#found + 1] = line
    end
  end
  return found
end

function init(args)
  mode = args[1] or "ceiling"
  key = args[2]
  if mode == "record" or mode == "floor-read" then
    ids = lines(args[3])
    -- Threads start at different ids so they do not walk in step.
    counter = math.random(#ids)
  elseif mode == "create" then
    keys = lines(args[2])
    counter = math.random(#keys)
    local file = assert(io.open(args[3], "rb"))
    body = file:read("*a")
    file:close()
  end
end

function request()
  if mode == "record" then
    counter = counter + 1
    local id = ids[(counter % #ids) + 1]
    return wrk.format("GET", "/api/v1/jobs/recordInfo?taskId=" .. id,
      { ["Authorization"] = "Bearer " .. key })
  elseif mode == "create" then
    counter = counter + 1
    local account_key = keys[(counter % #keys) + 1]
    return wrk.format("POST", "/api/v1/jobs/createTask",
      { ["Authorization"] = "Bearer " .. account_key, ["Content-Type"] = "application/json" }, body)
  elseif mode == "floor-read" then
    counter = counter + 1
    return wrk.format("GET", "/bench/floor/read?taskId=" .. ids[(counter % #ids) + 1])
  elseif mode == "floor-write" then
    return wrk.format("POST", "/bench/floor/write")
  end
  return wrk.format("GET", "/bench/ceiling")
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, '
      .. '"socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

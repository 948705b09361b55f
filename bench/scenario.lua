-- One wrk script for every scenario, steered by environment variables (set by bench/run.sh):
--   BENCH_METHOD  GET (default), POST, PATCH ...
--   BENCH_PATH    path and query; "{id}" is replaced per request by a random entry of BENCH_IDS
--   BENCH_IDS     comma-separated ids for "{id}" (e.g. items owned by demo1)
--   BENCH_ID_MAX  else "{id}" is a random integer in 1..BENCH_ID_MAX
--   BENCH_BUST    "1": append a unique "_=<nonce>-<thread>-<counter>" query parameter per request
--                 (unknown parameters are ignored by the API but change the response-cache key)
--   BENCH_NONCE   a per-run token so that busted URLs never repeat across runs
--   BENCH_TOKEN   access token sent as "Authorization: Bearer <token>"
--   BENCH_BODY    request body; "{n}" is replaced by the per-request counter
--   BENCH_OUT     file that done() writes its key=value summary to
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local bust = os.getenv("BENCH_BUST") == "1"
local nonce = os.getenv("BENCH_NONCE") or tostring(os.time())
local token = os.getenv("BENCH_TOKEN")
local body = os.getenv("BENCH_BODY")
local out = os.getenv("BENCH_OUT")

local id_max = tonumber(os.getenv("BENCH_ID_MAX") or "")
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "", "[^,]+") do
  ids[#ids + 1] = id
end

local headers = {}
if token and token ~= "" then
  headers["Authorization"] = "Bearer " .. token
end
if body and body ~= "" then
  headers["Content-Type"] = "application/json"
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  threads[#threads + 1] = thread
end

local counter = 0
local non2xx = 0
local statuses = {}

function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919)
end

function request()
  counter = counter + 1
  local p = path
  if #ids > 0 then
    p = string.gsub(p, "{id}", ids[math.random(#ids)])
  elseif id_max then
    p = string.gsub(p, "{id}", tostring(math.random(id_max)))
  end
  if bust then
    local sep = string.find(p, "?", 1, true) and "&" or "?"
    p = p .. sep .. "_=" .. nonce .. "-" .. tostring(tid) .. "-" .. counter
  end
  local b = nil
  if body and body ~= "" then
    b = string.gsub(body, "{n}", tostring(tid) .. "-" .. counter)
  end
  return wrk.format(method, p, headers, b)
end

function response(status, resp_headers, resp_body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  local codes = {}
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    local st = thread:get("statuses") or {}
    for code, n in pairs(st) do
      codes[code] = (codes[code] or 0) + n
    end
  end
  local code_list = {}
  for code, n in pairs(codes) do
    code_list[#code_list + 1] = code .. ":" .. n
  end
  local e = summary.errors
  local lines = {
    "requests=" .. summary.requests,
    "duration_us=" .. summary.duration,
    "rps=" .. string.format("%.2f", summary.requests / (summary.duration / 1e6)),
    "p50_us=" .. latency:percentile(50),
    "p90_us=" .. latency:percentile(90),
    "p99_us=" .. latency:percentile(99),
    "max_us=" .. latency.max,
    "mean_us=" .. string.format("%.1f", latency.mean),
    "non2xx=" .. bad,
    "statuses=" .. table.concat(code_list, ","),
    "socket_errors=" .. (e.connect + e.read + e.write + e.timeout),
    "timeouts=" .. e.timeout,
  }
  local text = table.concat(lines, "\n") .. "\n"
  if out and out ~= "" then
    local f = assert(io.open(out, "w"))
    f:write(text)
    f:close()
  else
    io.write(text)
  end
end

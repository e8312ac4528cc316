-- tests/soak/report.lua — reads the soak workers' outputs (tests/soak/run passes their directory
-- and the wall time) and prints throughput and per-operation p50/p99; exits 1 when a worker's fds
-- grew or its output is missing.  Run as `moonjail script report.lua OUTDIR WALL_SECONDS N`.
local dir, wall, n = arg[1], tonumber(arg[2]), tonumber(arg[3])

local by_op, order, total, problems = {}, {}, 0, {}
for i = 1, n do
  local f = io.open(string.format("%s/%d.times", dir, i))
  if not f then
    problems[#problems + 1] = "worker " .. i .. ": no output"
  else
    for line in f:lines() do
      local op, secs = line:match("^(%S+) ([%d.]+)$")
      if op then
        if not by_op[op] then by_op[op] = {}; order[#order + 1] = op end
        table.insert(by_op[op], tonumber(secs))
        total = total + 1
      end
      local first, last = line:match("^fds (%-?%d+) (%d+)$")
      if first and tonumber(last) > tonumber(first) then
        problems[#problems + 1] = string.format("worker %d: fds grew from %s to %s", i, first, last)
      end
    end
    f:close()
  end
end

local function pct(v, p)
  table.sort(v)
  if #v == 0 then return 0 end
  return v[math.max(1, math.ceil(#v * p))]
end

io.stdout:write(string.format("soak: %d operations in %.1f s: %.0f ops/s", total, wall, total / wall))
if by_op.exec then io.stdout:write(string.format(", %.0f execs/s", #by_op.exec / wall)) end
io.stdout:write("\n")
io.stdout:write(string.format("  %-11s %7s %9s %9s %9s\n", "operation", "count", "p50 ms", "p99 ms", "max ms"))
for _, op in ipairs(order) do
  local v = by_op[op]
  io.stdout:write(string.format("  %-11s %7d %9.2f %9.2f %9.2f\n", op, #v, pct(v, 0.5) * 1000, pct(v, 0.99) * 1000,
    pct(v, 1) * 1000))
end
for _, p in ipairs(problems) do io.stderr:write("soak: ", p, "\n") end
os.exit(#problems == 0 and 0 or 1)

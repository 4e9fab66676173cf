-- wrk script of bench/serve_bench.sh: POST one text per request to the path
-- given second after "--" (default /predict), cycling through the JSON bodies
-- prepared one a line in the file given first (each wrk thread starts at a
-- different line).
local bodies = {}
local i = 0
local headers = {["Content-Type"] = "application/json"}
local threads = 0
local path = "/predict"

function setup(thread)
    thread:set("id", threads)
    threads = threads + 1
end

function init(args)
    for line in io.lines(args[1]) do
        bodies[#bodies + 1] = line
    end
    i = ((id or 0) * 997) % #bodies
    if args[2] then path = args[2] end
end

function request()
    i = i % #bodies + 1
    return wrk.format("POST", path, headers, bodies[i])
end

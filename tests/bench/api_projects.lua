-- api_projects.lua — wrk script for server_bench.sh's API rows: project
-- reads (GET /api/projects/{id}) or saves (PUT with If-Match).
--
-- Environment: BENCH_MODE ("read" or "save"), BENCH_IDS (a file of project
-- ids, one a line), BENCH_THREADS (wrk's -t), BENCH_CSRF (the CSRF token:
-- ampd runs with --local, so no cookie is needed), BENCH_DOC (a file
-- holding the document a save sends).
--
-- Every project must be at revision 1 when the run starts (server_bench.sh
-- creates new ones for each save row).
--
-- Saves never conflict: thread k of T owns the ids k, k + T, ...; a
-- connection takes a free project for each save and gives it back, with
-- the revision the reply reports, when the reply comes. With at least as
-- many ids per thread as connections, each save is the only one in flight
-- on its project and If-Match is always current, so every save is a 200.
local mode = os.getenv("BENCH_MODE") or "read"
local csrf = os.getenv("BENCH_CSRF") or ""
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")

local all_ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
   if #line > 0 then all_ids[#all_ids + 1] = line end
end

local document = ""
if mode == "save" then
   local f = assert(io.open(os.getenv("BENCH_DOC"), "r"))
   document = f:read("*a")
   f:close()
end

-- Main state: number the threads.
local next_index = 0
function setup(thread)
   next_index = next_index + 1
   thread:set("thread_index", next_index)
end

-- Thread state: this thread's projects, free ones in a stack, revisions by id.
local free, revision, next_read = {}, {}, 1
local mine = {}
function init(args)
   for i = thread_index, #all_ids, thread_count do
      mine[#mine + 1] = all_ids[i]
      free[#free + 1] = all_ids[i]
      revision[all_ids[i]] = 1
   end
end

function request()
   if mode == "read" then
      local id = mine[next_read]
      next_read = next_read % #mine + 1
      return wrk.format("GET", "/api/projects/" .. id)
   end
   local id = table.remove(free)
   if not id then
      error("more connections than projects in this thread")
   end
   return wrk.format("PUT", "/api/projects/" .. id, {
      ["If-Match"] = '"' .. revision[id] .. '"',
      ["X-CSRF-Token"] = csrf,
      ["Content-Type"] = "application/json",
   }, document)
end

if mode == "save" then
   function response(status, headers, body)
      local id = body:match('"id":"(%x+)"')
      local rev = body:match('"revision":(%d+)')
      if status == 200 and id and rev then
         revision[id] = tonumber(rev)
         free[#free + 1] = id
      end
   end
end

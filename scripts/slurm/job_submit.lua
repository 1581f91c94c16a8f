-- AIVC cluster mode's guard (docs/cluster.md, "The guard"): slurmctld runs this for every job
-- submitted or modified. A reservation does not keep other jobs off a node's GPUs, and only
-- root may use our reservations and job names, so:
--   1. a GPU job must name exactly one node (-w NODE) and hold at least as many of that
--      node's licenses (GPU tokens) as GPUs it asks for;
--   2. a job whose name or reservation starts with our prefix is accepted from root only;
--   3. a user other than root may not give a job our prefix, change a GPU job at all, or
--      change anything of a job that carries our prefix (the monitor's jobs for bookings);
--   4. no job name holds a control character (it could pose as a line of squeue's output).
--
-- Installed as job_submit.lua next to slurm.conf (JobSubmitPlugins=lua) by
-- `scripts/setup.sh --slurm`, which fills in the two values below from cfg/cluster.yaml
-- (through `run-container slurm-job-submit`). Do not edit the copy there: run setup again.

local PREFIX = "@RESERVATION_PREFIX@"
-- node name -> the license that stands for its GPUs
local NODE_LICENSES = {
  -- @NODE_LICENSES@
}

local NO_VAL = 4294967294 -- Slurm's "not set" for 32-bit fields (and NO_VAL + 1, INFINITE)

local function prefixed(text)
  if text == nil or text == "" then return false end
  -- A list of reservations (r1,r2) is ours if any of its names is.
  for item in string.gmatch(text, "[^,]+") do
    if string.lower(string.sub(item, 1, #PREFIX)) == string.lower(PREFIX) then return true end
  end
  return false
end

local TRES_FIELDS = {"tres_per_node", "tres_per_job", "tres_per_task", "tres_per_socket"}

local function asks_gpu(j)
  for _, f in ipairs(TRES_FIELDS) do
    local v = j[f]
    if v ~= nil and string.find(v, "gpu", 1, true) then return true end
  end
  return false
end

-- The GPUs one TRES string asks for ("gres:gpu:2", "gres:gpu:a100:2", "gres:gpu" = 1,
-- several entries separated by commas); nil when a count cannot be read.
local function gpu_count(tres)
  if tres == nil or tres == "" then return 0 end
  local total = 0
  for item in string.gmatch(tres, "[^,]+") do
    if string.find(item, "gpu", 1, true) then
      local fields = {}
      for f in string.gmatch(item, "[^:/]+") do fields[#fields + 1] = f end
      local last = fields[#fields]
      local n
      if last == "gpu" or (#fields >= 2 and fields[#fields - 1] == "gpu" and not string.match(last, "^%d+$")) then
        n = 1 -- "gres:gpu" or "gres:gpu:TYPE"
      else
        n = tonumber(string.match(last, "^(%d+)$"))
      end
      if n == nil then return nil end
      total = total + n
    end
  end
  return total
end

-- How many of the license `name` the job's license request holds (0 when none).
local function licenses_of(request, name)
  if request == nil or request == "" then return 0 end
  local held = 0
  for item in string.gmatch(request, "[^,]+") do
    local n, count = string.match(item, "^([^:]+):?(%d*)$")
    if n == name then held = held + (tonumber(count) or 1) end
  end
  return held
end

local function set(v) return v ~= nil and v < NO_VAL end

-- Rule 1; nil when the job may run, else why not.
local function gpu_problem(j)
  if not asks_gpu(j) then return nil end
  local how = "GPU jobs must name one node (-w NODE) and request its license (--licenses=LICENSE:N, N >= the GPUs asked)"
  if j.tres_per_task ~= nil and string.find(j.tres_per_task, "gpu", 1, true) then
    return "ask for GPUs with --gres=gpu:N or --gpus=N (not per task); " .. how
  end
  if j.tres_per_socket ~= nil and string.find(j.tres_per_socket, "gpu", 1, true) then
    return "ask for GPUs with --gres=gpu:N or --gpus=N (not per socket); " .. how
  end
  local node = j.req_nodes
  if node == nil or node == "" or string.find(node, "[,%[%]%s]") then return how end
  if set(j.min_nodes) and j.min_nodes > 1 then return how end
  if set(j.max_nodes) and j.max_nodes > 1 then return how end
  -- Unset, a node count could still grow past the one node named (--nodes=1-2 with more
  -- tasks): one node it is.
  j.max_nodes = 1
  local licenses = j.licenses or ""
  if string.find(licenses, "|", 1, true) then return how end
  local license = NODE_LICENSES[node]
  if license == nil then return nil end -- not a node the lab books: its GPUs are no booking's
  local per_node = gpu_count(j.tres_per_node)
  local per_job = gpu_count(j.tres_per_job)
  if per_node == nil or per_job == nil then return how end
  local want = math.max(per_node, per_job)
  if licenses_of(licenses, license) < want then
    return "GPU jobs on " .. node .. " must request " .. license .. ":N for their N GPUs (--licenses=" ..
      license .. ":" .. want .. "); " .. how
  end
  return nil
end

-- A name with a control character (a line break) could pose as a line of squeue's output.
local function bad_name(name)
  return name ~= nil and string.find(name, "%c") ~= nil
end

function slurm_job_submit(job_desc, part_list, submit_uid)
  if bad_name(job_desc.name) then
    slurm.log_user("job names may not hold control characters (line breaks, tabs)")
    return slurm.ERROR
  end
  if submit_uid ~= 0 and (prefixed(job_desc.name) or prefixed(job_desc.reservation)) then
    slurm.log_user("job names and reservations starting with %s belong to the booking system; only root may use them", PREFIX)
    return slurm.ERROR
  end
  local why = gpu_problem(job_desc)
  if why ~= nil then
    slurm.log_user("%s", why)
    return slurm.ERROR
  end
  return slurm.SUCCESS
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
  if bad_name(job_desc.name) then
    slurm.log_user("job names may not hold control characters (line breaks, tabs)")
    return slurm.ERROR
  end
  if modify_uid == 0 then return slurm.SUCCESS end
  if prefixed(job_desc.name) or prefixed(job_desc.reservation) then
    slurm.log_user("job names and reservations starting with %s belong to the booking system; only root may use them", PREFIX)
    return slurm.ERROR
  end
  if job_rec ~= nil and (prefixed(job_rec.name) or prefixed(job_rec.resv_name)) then
    slurm.log_user("this job belongs to the booking system; change the booking instead")
    return slurm.ERROR
  end
  if asks_gpu(job_desc) then
    slurm.log_user("only root may change a job's GPU request; submit a new job instead")
    return slurm.ERROR
  end
  local had_gpu = job_rec ~= nil and (asks_gpu(job_rec) or
    (job_rec.gres ~= nil and string.find(job_rec.gres, "gpu", 1, true) ~= nil))
  if had_gpu then
    -- Tasks, node counts, cpus: each could carry the job onto more GPUs than its licenses.
    slurm.log_user("only root may change a GPU job; submit a new job instead")
    return slurm.ERROR
  end
  return slurm.SUCCESS
end

slurm.log_info("AIVC job_submit.lua loaded (prefix %s)", PREFIX)
return slurm.SUCCESS

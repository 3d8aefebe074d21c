-- Stores an automatic persisted query unless the window's byte budget is
-- spent. KEYS[1]: the document's key; KEYS[2]: the budget's key.
-- ARGV: the document, its size in bytes, the TTL in seconds, the budget.
-- A document already there keeps its expiry: refreshing it without charging
-- the budget again would let documents outlive their window unaccounted.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 1
end
local used = redis.call('INCRBY', KEYS[2], ARGV[2])
if redis.call('TTL', KEYS[2]) < 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
if used > tonumber(ARGV[4]) then
  redis.call('DECRBY', KEYS[2], ARGV[2])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1

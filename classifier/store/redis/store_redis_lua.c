/*
 * store_redis_lua.c - the Lua text of the Redis backend's scripts. See
 * store_redis_lua.h, and README "Redis layout" for the keys they touch.
 *
 * A token's value is 12 bytes, struct.pack('<I4I4I4', spam, ham, seen):
 * counts and the day it was last learned, little-endian, the same bytes
 * store_redis.c decodes.
 */
#include "store/redis/store_redis_lua.h"

const char *const redis_script_text[REDIS_SCRIPT_MAX] = {
	/*
	 * COMMIT. KEYS[1] is the data version counter, KEYS[2..] the hashes
	 * the records name by index. ARGV is a list of records, a tag and
	 * its fields:
	 *   R k field value   the transaction read value from field of KEYS[k]
	 *   N k field         it read the field as missing
	 *   T k nk ds dh ms mh day n f1..fn
	 *                     add ds/dh to n token fields of KEYS[k] (clamped at
	 *                     zero, a field at zero/zero deleted, seen raised to
	 *                     day), ms/mh to the totals hash KEYS[nk]
	 *   P k field value   set;   D k field   delete
	 * Every read is checked before anything is written: when one changed
	 * (another node learned the same message) the script returns -1 and
	 * writes nothing. Otherwise it returns the new data version.
	 */
	[REDIS_SCRIPT_COMMIT] =
	"local n, i = #ARGV, 1\n"
	"while i <= n do\n"
	"  local op = ARGV[i]\n"
	"  if op == 'R' then\n"
	"    if redis.call('HGET', KEYS[tonumber(ARGV[i+1])], ARGV[i+2]) ~= ARGV[i+3] then return -1 end\n"
	"    i = i + 4\n"
	"  elseif op == 'N' then\n"
	"    if redis.call('HEXISTS', KEYS[tonumber(ARGV[i+1])], ARGV[i+2]) == 1 then return -1 end\n"
	"    i = i + 3\n"
	"  elseif op == 'T' then i = i + 9 + tonumber(ARGV[i+8])\n"
	"  elseif op == 'P' then i = i + 4\n"
	"  elseif op == 'D' then i = i + 3\n"
	"  else return redis.error_reply('bayesd commit: unknown record ' .. tostring(op)) end\n"
	"end\n"
	"local function clamp(v) if v < 0 then return 0 end return v end\n"
	"i = 1\n"
	"while i <= n do\n"
	"  local op = ARGV[i]\n"
	"  if op == 'T' then\n"
	"    local k, nk = KEYS[tonumber(ARGV[i+1])], KEYS[tonumber(ARGV[i+2])]\n"
	"    local ds, dh = tonumber(ARGV[i+3]), tonumber(ARGV[i+4])\n"
	"    local ms, mh = tonumber(ARGV[i+5]), tonumber(ARGV[i+6])\n"
	"    local day, cnt = tonumber(ARGV[i+7]), tonumber(ARGV[i+8])\n"
	"    for j = i + 9, i + 8 + cnt do\n"
	"      local f = ARGV[j]\n"
	"      local v = redis.call('HGET', k, f)\n"
	"      local sp, hm, seen = 0, 0, 0\n"
	"      if v and #v == 12 then sp, hm, seen = struct.unpack('<I4I4I4', v) end\n"
	"      sp = clamp(sp + ds)\n"
	"      hm = clamp(hm + dh)\n"
	"      if day > seen then seen = day end\n"
	"      if sp == 0 and hm == 0 then redis.call('HDEL', k, f)\n"
	"      else redis.call('HSET', k, f, struct.pack('<I4I4I4', sp, hm, seen)) end\n"
	"    end\n"
	"    local t = redis.call('HMGET', nk, 'spam', 'ham')\n"
	"    redis.call('HSET', nk, 'spam', clamp((tonumber(t[1]) or 0) + ms),\n"
	"               'ham', clamp((tonumber(t[2]) or 0) + mh))\n"
	"    i = i + 9 + cnt\n"
	"  elseif op == 'P' then\n"
	"    redis.call('HSET', KEYS[tonumber(ARGV[i+1])], ARGV[i+2], ARGV[i+3])\n"
	"    i = i + 4\n"
	"  elseif op == 'D' then\n"
	"    redis.call('HDEL', KEYS[tonumber(ARGV[i+1])], ARGV[i+2])\n"
	"    i = i + 3\n"
	"  elseif op == 'R' then i = i + 4\n"
	"  else i = i + 3 end\n"
	"end\n"
	"return redis.call('INCR', KEYS[1])\n",

	/*
	 * USER. KEYS[1] name -> id, KEYS[2] id -> name, KEYS[3] the last
	 * id given out; ARGV[1] the name. Two nodes adding the same new user
	 * at once get the same id.
	 */
	[REDIS_SCRIPT_USER] =
	"local id = redis.call('HGET', KEYS[1], ARGV[1])\n"
	"if id then return tonumber(id) end\n"
	"id = redis.call('INCR', KEYS[3])\n"
	"redis.call('HSET', KEYS[1], ARGV[1], id)\n"
	"redis.call('HSET', KEYS[2], id, ARGV[1])\n"
	"return id\n",

	/*
	 * DELETE_IF. KEYS[1] a hash, KEYS[2] the data version; ARGV field,
	 * value pairs. Expiry condemns rows it read; a row a learn changed
	 * since is evidence again and stays. Returns the fields deleted.
	 */
	[REDIS_SCRIPT_DELETE_IF] =
	"local n = 0\n"
	"for i = 1, #ARGV, 2 do\n"
	"  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i+1] then\n"
	"    redis.call('HDEL', KEYS[1], ARGV[i])\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"if n > 0 then redis.call('INCR', KEYS[2]) end\n"
	"return n\n",
};

# Allocation-heavy Python workload for the LD_PRELOAD tests: dicts, lists, strings, sets,
# sorting, big byte strings, and a few threads. Deterministic: prints checksums only.
import hashlib
import random
import sys
import threading

rng = random.Random(12345)
digest = hashlib.sha256()


def emit(label, value):
    line = "%s %s" % (label, value)
    digest.update(line.encode())
    print(line)


# dicts of many small objects, grown and shrunk
d = {}
for i in range(80000):
    d["key-%d-%d" % (i, rng.randrange(1000))] = [i, str(i) * (i % 7), (i, i * 2)]
for k in list(d)[::3]:
    del d[k]
emit("dict", (len(d), sum(v[0] for v in d.values()) % 1000003))

# lists of strings, sorted several ways
words = ["".join(chr(97 + rng.randrange(26)) for _ in range(rng.randrange(1, 20)))
         for _ in range(50000)]
s1 = sorted(words)
s2 = sorted(words, key=lambda w: (len(w), w[::-1]))
emit("sort", hashlib.md5("\n".join(s1).encode()).hexdigest())
emit("sortkey", hashlib.md5("\n".join(s2).encode()).hexdigest())

# string building and splitting
text = " ".join(words)
parts = text.split(" ")
joined = "-".join(p.upper() for p in parts if len(p) % 2)
emit("strings", (len(parts), len(joined), joined.count("A")))

# large buffers: bytes, bytearray growth, list of big blocks
big = bytearray()
for i in range(2000):
    big += bytes([i % 251]) * (i * 37 % 5000)
emit("bytearray", (len(big), hashlib.sha1(big).hexdigest()))
blocks = [bytes([i % 256]) * (65536 + i * 4099) for i in range(64)]
emit("blocks", sum(len(b) for b in blocks))
del blocks

# sets and nested structures
sets = [set(range(i, i + rng.randrange(1, 300))) for i in range(2000)]
union = set().union(*sets)
emit("sets", (len(union), sum(len(s) for s in sets)))
tree = {}
for i in range(30000):
    node = tree
    for c in words[i][:4]:
        node = node.setdefault(c, {})
    node["$"] = node.get("$", 0) + 1


def count(node):
    return sum(count(v) if isinstance(v, dict) else v for v in node.values())


emit("trie", count(tree))

# threads allocating and freeing concurrently
results = [None] * 4


def worker(idx):
    r = random.Random(idx)
    acc = []
    total = 0
    for i in range(12000):
        acc.append("t%d-%d" % (idx, r.randrange(10 ** 6)) * (1 + i % 5))
        if len(acc) > 500:
            total += sum(len(x) for x in acc)
            acc = acc[250:]
    results[idx] = total


threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
emit("threads", results)

print("checksum", digest.hexdigest())
sys.stdout.flush()

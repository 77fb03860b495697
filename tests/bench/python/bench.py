"""The Python SDKs people use today, on the same workload and sandbox as
agentwire's benches: requests/s and CPU seconds per 1000 requests.

Run through run.sh, which makes a throwaway venv and starts the sandbox.
Usage: python bench.py <sandbox-base-url> <colony-api-key> <promptev-project-key> [requests]
"""

import asyncio
import json
import resource
import sys
import time
import urllib.request


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def control(base, path, body):
    req = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def report(name, conc, n, wall, cpu):
    print(f"{name:<28} {conc:>5} {n / wall:>10.0f} {cpu / n * 1000:>12.3f}")


def colony_sync(base, key, n):
    from colony_sdk import ColonyClient

    client = ColonyClient(key, base_url=base + "/api/v1", cache_token=False)
    client.get_posts(limit=20)  # token exchange, connection
    t, c = time.perf_counter(), cpu_seconds()
    for _ in range(n):
        page = client.get_posts(limit=20)
        assert len(page["items"]) == 20
    report("colony-sdk sync get_posts", 1, n, time.perf_counter() - t, cpu_seconds() - c)


async def colony_async(base, key, n, conc):
    from colony_sdk import AsyncColonyClient

    client = AsyncColonyClient(key, base_url=base + "/api/v1", cache_token=False)
    await client.get_posts(limit=20)

    async def worker(k):
        for _ in range(k):
            page = await client.get_posts(limit=20)
            assert len(page["items"]) == 20

    t, c = time.perf_counter(), cpu_seconds()
    await asyncio.gather(*(worker(n // conc) for _ in range(conc)))
    report("colony-sdk async get_posts", conc, n // conc * conc, time.perf_counter() - t, cpu_seconds() - c)


def colony_iter(base, key, posts):
    from colony_sdk import ColonyClient

    client = ColonyClient(key, base_url=base + "/api/v1", cache_token=False)
    t, c = time.perf_counter(), cpu_seconds()
    count = sum(1 for _ in client.iter_posts(page_size=100))
    wall = time.perf_counter() - t
    print(f"colony-sdk iter_posts over {count} posts: {wall:.2f}s ({count / wall:.0f} posts/s), "
          f"CPU {cpu_seconds() - c:.2f}s")


def promptev_stream(base, project_key, n):
    from promptev import PromptevClient

    client = PromptevClient(project_key=project_key, base_url=base)
    session = client.start_agent("echo-agent")
    t, c = time.perf_counter(), cpu_seconds()
    events = 0
    for _ in range(n):
        for _event in client.stream_agent(session.agent_id, session_token=session.session_token, query="hello"):
            events += 1
    wall = time.perf_counter() - t
    print(f"promptev stream_agent x{n}: {n / wall:.0f} streams/s, {events / wall:.0f} events/s, "
          f"CPU {(cpu_seconds() - c) / n * 1000:.3f}s per 1000 streams")


def mycel_stream(base, frames):
    import threading

    from mycel_sdk import Client

    agent = control(base, "/_sandbox/mycel/agent", {"user_id": "pyreader"})
    client = Client(base_url=base, auth_token=agent["token"])
    consumed = [0]

    def pusher():
        pushed = 0
        while pushed < frames:
            # Stay inside the sandbox's 256-frame replay buffer.
            while pushed - consumed[0] > 150:
                time.sleep(0.0005)
            n = min(100, frames - pushed)
            control(base, "/_sandbox/mycel/push", {"user_id": "pyreader", "n": n})
            pushed += n

    thread = threading.Thread(target=pusher)
    t, c = time.perf_counter(), cpu_seconds()
    thread.start()
    for frame in client.notifications.stream(since_seq=0):
        consumed[0] = frame["seq"]
        if frame["seq"] >= frames:
            break
    wall = time.perf_counter() - t
    thread.join()
    print(f"mycel-sdk notifications.stream: {frames} frames in {wall:.2f}s = {frames / wall:.0f} frames/s "
          f"(client CPU {cpu_seconds() - c:.2f}s, includes the pushing thread)")


def main():
    base, colony_key, project_key = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    print(f"{'client':<28} {'conc':>5} {'req/s':>10} {'CPU s/1000':>12}")
    colony_sync(base, colony_key, n)
    for conc in (16, 64):
        asyncio.run(colony_async(base, colony_key, n, conc))
    colony_iter(base, colony_key, 10_000)
    promptev_stream(base, project_key, 200)
    mycel_stream(base, 20_000)


if __name__ == "__main__":
    main()

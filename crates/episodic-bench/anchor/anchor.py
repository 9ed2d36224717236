"""The production notes' render patterns, written with the official fal-client, as the anchor
episodic is measured against (kling-avatar-api.md: "Parallel Batch Pattern" and the sync
`subscribe` pattern, then "Dual-Anchor Pipeline" steps 3 and 4: hstack per segment, concat by copy).

Usage: python anchor.py parallel|sequential SPEC.json WORKDIR
  STUDIO_URL  the studio's base URL (fal's hosts are swapped for it, nothing else changes)
  FAL_KEY     the key

SPEC.json: {"segments": [{"id", "speaker": {"endpoint", "args"}, "listener": {...}}]}, args holding
{"$file": PATH} where a file URL goes. Optional: "canvas": [WIDTH, HEIGHT], the frame every segment
is written at (each clip fitted into its half and padded, as episodic's side_by_side does; without
it both clips are scaled to HEIGHT px high and the frame is as wide as they come out), and
"compose_jobs": N, how many hstack runs at once (default 1). Prints one summary line;
episodic-bench times the process.

Identical requests (same endpoint and arguments: a listener clip shared by several segments) are
submitted once and their result used for each, as a producer caching results would.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import fal_client.client as fc

# The canvas height both clips are scaled to before hstack (hstack needs equal heights); the
# benchmark renders at --scale 8, so this is 1080 / 8 rounded to even.
HEIGHT = 136
# One frame rate for both: the avatar comes at 30 fps and image-to-video at 24, and hstack of the
# two without it writes a 90,000 fps stream (the notes' bare command has that trap too).
FPS = 30


def main():
    # Absolute: the concat list resolves its entries against its own folder.
    mode, spec_path, work = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
    base = os.environ["STUDIO_URL"]
    # Only the host constants change; everything else is the official client's own code path.
    fc.QUEUE_URL_FORMAT = base + "/"
    fc.RUN_URL_FORMAT = base + "/"
    fc.REST_URL = base
    fc.CDN_URL = base
    client = fc.SyncClient(key=os.environ["FAL_KEY"])
    with open(spec_path) as f:
        spec = json.load(f)
    os.makedirs(work, exist_ok=True)

    uploaded = {}

    def upload(path):
        # "upload once, use many times": the notes reuse the image's URL across segments.
        if path not in uploaded:
            uploaded[path] = client.upload_file(path)
        return uploaded[path]

    def arguments(raw):
        return {
            key: upload(value["$file"]) if isinstance(value, dict) and "$file" in value else value
            for key, value in raw.items()
        }

    # Each distinct request once, in the order first met; jobs point at it by index.
    requests, index_of, jobs = [], {}, []
    for segment in spec["segments"]:
        for role in ("speaker", "listener"):
            render = segment[role]
            identity = json.dumps(render, sort_keys=True)
            if identity not in index_of:
                index_of[identity] = len(requests)
                requests.append(render)
            jobs.append((segment["id"], role, index_of[identity]))
    results = {}
    if mode == "parallel":
        # Fire all at once: upload, submit (non-blocking) ...
        handles = []
        for number, render in enumerate(requests):
            handle = client.submit(render["endpoint"], arguments=arguments(render["args"]))
            handles.append((number, handle))
        # ... then collect (blocks per handle, but they run in parallel on fal).
        for number, handle in handles:
            results[number] = handle.get()
    elif mode == "sequential":
        for number, render in enumerate(requests):
            results[number] = client.subscribe(
                render["endpoint"],
                arguments=arguments(render["args"]),
                with_logs=True,
                on_queue_update=lambda update: None,
            )
    else:
        sys.exit(f"unknown mode {mode}")

    # Download (each result once), then the notes' composite and concat.
    clips = {}
    for number, result in results.items():
        clips[number] = os.path.join(work, f"render-{number:03}.mp4")
        with open(clips[number], "wb") as out:
            out.write(httpx.get(result["video"]["url"]).content)
    clip_of = {(segment_id, role): clips[number] for segment_id, role, number in jobs}
    canvas = spec.get("canvas")
    if canvas:
        half = (canvas[0] // 2 // 2 * 2, canvas[1])
        fit = (
            f"scale={half[0]}:{half[1]}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
            f"pad={half[0]}:{half[1]}:(ow-iw)/2:(oh-ih)/2,setsar=1"
        )
        other = f"scale={canvas[0] - half[0]}:{half[1]}:force_original_aspect_ratio=decrease:force_divisible_by=2," \
            f"pad={canvas[0] - half[0]}:{half[1]}:(ow-iw)/2:(oh-ih)/2,setsar=1"
        graph = f"[0:v]fps={FPS},{fit}[s];[1:v]fps={FPS},{other}[l];[s][l]hstack=inputs=2:shortest=1[v]"
    else:
        graph = (
            f"[0:v]fps={FPS},scale=-2:{HEIGHT},setsar=1[s];[1:v]fps={FPS},scale=-2:{HEIGHT},setsar=1[l];"
            "[s][l]hstack=inputs=2:shortest=1[v]"
        )

    def compose(segment):
        out = os.path.join(work, f"{segment['id']}.mp4")
        ffmpeg("-i", clip_of[(segment["id"], "speaker")], "-i", clip_of[(segment["id"], "listener")],
               "-filter_complex", graph, "-map", "[v]", "-map", "0:a",
               "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", out)
        return out

    with ThreadPoolExecutor(max_workers=max(1, int(spec.get("compose_jobs", 1)))) as pool:
        parts = list(pool.map(compose, spec["segments"]))
    listing = os.path.join(work, "segments.txt")
    with open(listing, "w") as f:
        f.writelines(f"file '{part}'\n" for part in parts)
    final = os.path.join(work, "episode.mp4")
    ffmpeg("-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", final)
    print(f"{mode}: {len(results)} renders for {len(jobs)} clips, {len(uploaded)} uploads, {len(parts)} segments -> {final}")


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


if __name__ == "__main__":
    main()

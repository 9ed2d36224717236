"""The production notes' render patterns, written with the official fal-client, as the anchor
episodic is measured against (kling-avatar-api.md: "Parallel Batch Pattern" and the sync
`subscribe` pattern, then "Dual-Anchor Pipeline" steps 3 and 4: hstack per segment, concat by copy).

Usage: python anchor.py parallel|sequential SPEC.json WORKDIR
  STUDIO_URL  the studio's base URL (fal's hosts are swapped for it, nothing else changes)
  FAL_KEY     the key

SPEC.json: {"segments": [{"id", "speaker": {"endpoint", "args"}, "listener": {...}}]}, args holding
{"$file": PATH} where a file URL goes. Prints one summary line; episodic-bench times the process.
"""

import json
import os
import subprocess
import sys

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

    jobs = [
        (segment["id"], role, segment[role])
        for segment in spec["segments"]
        for role in ("speaker", "listener")
    ]
    results = {}
    if mode == "parallel":
        # Fire all at once: upload, submit (non-blocking) ...
        handles = []
        for segment_id, role, render in jobs:
            handle = client.submit(render["endpoint"], arguments=arguments(render["args"]))
            handles.append((segment_id, role, handle))
        # ... then collect (blocks per handle, but they run in parallel on fal).
        for segment_id, role, handle in handles:
            results[(segment_id, role)] = handle.get()
    elif mode == "sequential":
        for segment_id, role, render in jobs:
            results[(segment_id, role)] = client.subscribe(
                render["endpoint"],
                arguments=arguments(render["args"]),
                with_logs=True,
                on_queue_update=lambda update: None,
            )
    else:
        sys.exit(f"unknown mode {mode}")

    # Download, then the notes' composite and concat.
    for (segment_id, role), result in results.items():
        with open(os.path.join(work, f"{segment_id}-{role}.mp4"), "wb") as out:
            out.write(httpx.get(result["video"]["url"]).content)
    parts = []
    for segment in spec["segments"]:
        speaker = os.path.join(work, f"{segment['id']}-speaker.mp4")
        listener = os.path.join(work, f"{segment['id']}-listener.mp4")
        out = os.path.join(work, f"{segment['id']}.mp4")
        graph = (
            f"[0:v]fps={FPS},scale=-2:{HEIGHT},setsar=1[s];[1:v]fps={FPS},scale=-2:{HEIGHT},setsar=1[l];"
            "[s][l]hstack=inputs=2:shortest=1[v]"
        )
        ffmpeg("-i", speaker, "-i", listener, "-filter_complex", graph, "-map", "[v]", "-map", "0:a",
               "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", out)
        parts.append(out)
    listing = os.path.join(work, "segments.txt")
    with open(listing, "w") as f:
        f.writelines(f"file '{part}'\n" for part in parts)
    final = os.path.join(work, "episode.mp4")
    ffmpeg("-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", final)
    print(f"{mode}: {len(results)} renders, {len(uploaded)} uploads, {len(parts)} segments -> {final}")


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


if __name__ == "__main__":
    main()

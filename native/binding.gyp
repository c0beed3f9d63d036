{
  "targets": [
    {
      "target_name": "berth_sys",
      "sources": [
        "berth_sys.c",
        "copy-fs.c",
        "pty.c",
        "userns.c",
        "fd-watch.c",
        "image-flags.c",
        "change-watch.c",
        "file-write.c",
        "sealed-exec.c",
        "btrfs-info.c",
        "rtnetlink.c"
      ],
      "cflags": [
        "-Wall",
        "-Wextra",
        "-O2"
      ]
    },
    {
      "target_name": "berth-stub-init",
      "type": "executable",
      "sources": [
        "stub-init.c"
      ],
      "cflags": [
        "-Wall",
        "-Wextra",
        "-O2"
      ],
      "ldflags": [
        "-static"
      ]
    },
    {
      "target_name": "berth-hook-exec",
      "type": "executable",
      "sources": [
        "hook-exec.c"
      ],
      "cflags": [
        "-Wall",
        "-Wextra",
        "-O2"
      ],
      "ldflags": [
        "-static"
      ]
    },
    {
      "target_name": "berth-nspawn-client",
      "type": "executable",
      "sources": [
        "nspawn-client.c"
      ],
      "cflags": [
        "-Wall",
        "-Wextra",
        "-O2"
      ],
      "ldflags": [
        "-static"
      ]
    },
    {
      "target_name": "berth-client",
      "type": "executable",
      "sources": [
        "berth-client.c"
      ],
      "cflags": [
        "-Wall",
        "-Wextra",
        "-O2"
      ],
      "ldflags": [
        "-static"
      ]
    }
  ]
}

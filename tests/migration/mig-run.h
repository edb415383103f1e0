/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One migration of the real guest from host A to host B (mig-env.h), with
 * the probes running (mig-probe.h), by one of two drivers:
 *
 * - netlifecd: both hosts' daemons create the devices and follow QEMU
 *   (AttachQemu); PrepareIncoming on B, Migrate on A with post-copy after the
 *   first pass, gated on B's readiness, which A's daemon learns from B's bus
 *   ("destination-bus") or from this process calling DestinationReady() the
 *   moment B's instance turns Ready ("coordinated");
 * - naive: what a driver does without netlifecd: the destination tap is
 *   made and bridged when the destination QEMU starts, post-copy is started
 *   after the first pass with no gate, and nothing handles the MAC (QEMU's
 *   own announcements only). QMP spoken here, the daemons stay idle.
 *
 * Used by the test (tests/migration/test-postcopy.c) and the blackout bench
 * (bench/blackout.c), so both measure exactly the same way.
 */
#pragma once

#include "mig-env.h"
#include "mig-probe.h"

#define MIG_INSTANCE_NAME "vm1"
#define MIG_TAP_A         "vm1a"
#define MIG_TAP_B         "vm1b"
#define MIG_MIGRATION_URI "tcp:198.51.100.2:4444"
/* The guest's second NIC (MIG_GUEST_MAC2), in the runs that give it one. */
#define MIG_TAP2_A "vm1a2"
#define MIG_TAP2_B "vm1b2"
/* Localhost live upgrade: a second QEMU on host A, its own instance and tap
 * on A's bridge, the stream over A's loopback. */
#define MIG_LOCAL_INSTANCE "vm1-new"
#define MIG_TAP_LOCAL      "vm1n"
#define MIG_LOCAL_URI      "tcp:127.0.0.1:4444"

typedef enum {
        MIG_DRIVER_NETLIFECD,
        MIG_DRIVER_NAIVE,
} MigDriver;

typedef struct _MigRun MigRun;

typedef enum {
        MIG_HOOK_GO_ON, /* keep following the migration */
        MIG_HOOK_DONE,  /* stop following: the test judges what happened */
        MIG_HOOK_FAILED,
} MigHookResult;

/* Called on every poll of A's migration (about every 10 ms) with its phase:
 * the place to inject a fault (Cancel, cut the link, kill a QEMU or a
 * daemon). MIG_HOOK_FAILED with @error stops the run. */
typedef MigHookResult (*MigRunHook)(MigEnv *env, MigRun *run, const char *phase, gpointer data,
                                    GError **error);

typedef struct {
        MigDriver driver;
        const char *readiness; /* netlifecd: "destination-bus" or "coordinated"
                                * ("local" with @local) */
        guint64 max_bandwidth; /* bytes/s for the migration stream */
        guint settle_ms;       /* after completion: how long to wait at most for the
                                 * echo requests to reach B's tap (the naive
                                 * driver's blackout can outlast the migration) */
        /* netlifecd only: */
        const char *migrate_options;    /* more Migrate() options, GVariant text
                                         * ("{'readiness-timeout': <uint32 2000>}") */
        const char *incoming_options;   /* PrepareIncoming() options, same form */
        gboolean blocktime;             /* B's QEMU measures post-copy page-fault
                                         * blocktime (enabled and read through the
                                         * test's own monitor) */
        guint64 max_postcopy_bandwidth; /* set on A's QEMU through the test's own
                                         * monitor, to make post-copy last; 0: QEMU's */
        guint downtime_limit_ms;        /* set on A's QEMU the same way: a large one
                                         * makes pre-copy converge at once, even with
                                         * the guest dirtying; 0: QEMU's */
        MigRunHook hook;
        gpointer hook_data;
        gboolean local;           /* the destination is host A itself (MIG_LOCAL_*):
                                   * "B" is then the second QEMU on A */
        const char *expect_final; /* the phase A's migration must end in; NULL:
                                   * "completed" (then B's must complete too) */
        gboolean share_queues;    /* with @local: the second QEMU gets new queues of
                                   * A's tap (Device.ShareQueues) instead of a tap
                                   * of its own */
        /* netlifecd between hosts A and B only: a guest with a second NIC
         * (MIG_GUEST_MAC2 on MIG_TAP2_A, MIG_TAP2_B), both QEMUs started
         * with both. Its eth0 stays the first NIC, the one the probes use. */
        gboolean second_nic;
        guint second_nic_delay_ms;       /* on B, the second NIC's device is created
                                        * this long after the first's (both before
                                        * B's QEMU and PrepareIncoming) */
        gboolean second_nic_unmanaged;   /* on B, the second NIC's tap is the test's
                                        * own, on no bridge: B's daemon holds a
                                        * device for the first NIC only */
        gboolean wait_destination_ready; /* Migrate only once B's instance is Ready */
} MigRunConfig;

/* A PropertiesChanged about B's device or instance, timed on arrival here. */
typedef struct {
        gint64 at;
        char *what; /* "device PortState=forwarding", "instance Ready=true", ...;
                     * "device2 ..." for a second NIC's device */
} MigChange;

struct _MigRun {
        gboolean completed;        /* the run went as configured: the migration reached
                             * the expected final phase (or the hook said done) */
        char *final_phase;         /* A's phase when the run stopped following it */
        char *src_path, *dst_path; /* the Migration objects (netlifecd) */
        char *failure;             /* why the run stopped, NULL when it completed */
        char *qemu_version;
        /* CLOCK_REALTIME µs; 0 when not seen. Both drivers fill these. */
        gint64 migrate_at;                     /* just before the migration was started */
        gint64 switch_at;                      /* migrate-start-postcopy went out */
        gint64 stop_at;                        /* A's STOP */
        gint64 resume_at;                      /* B's RESUME */
        gint64 completed_at;                   /* A's migration completed */
        gint64 probe_end;                      /* when the last echo request went out */
        guint64 downtime_ms;                   /* QEMU's figure, from A */
        guint warmup_captures, warmup_replies; /* before the migration */
        /* With config->blocktime: how long vCPUs waited for post-copy page
         * faults on B, overall and per vCPU (ms), from B's query-migrate. */
        gint64 blocktime_ms;
        char *vcpu_blocktime_ms;
        /* netlifecd only: Migration.Timeline and Instance.GuestTimeline. */
        GVariant *src_timeline, *dst_timeline, *src_guest, *dst_guest;
        char *phases; /* A's phases as seen: "setup -> precopy -> ..." */
        GArray *sent, *replies, *captures[2], *samples;
        GArray *changes; /* MigChange (netlifecd only) */
        int tap_ifindex[2];
        /* With config->second_nic: its taps, as the sampler found them; when
         * B's Create returned for each NIC's device (netlifecd; 0: none). */
        int tap2_ifindex[2];
        gint64 dst_created_at[2];
        char *serial[2];
        /* With share_queues, read from the QEMUs' own fds at the end (while
         * both still run): 1 attached, 0 detached, or a negative errno. */
        int old_queue_attached, new_queue_attached;
        /* The destination device's State when the run ended, before any of
         * its QEMUs was stopped. */
        char *dst_final_state;
        /* netlifecd: a Migrate naming no readiness was refused first
         * (InvalidArgs), as the gate must never fail open. */
        gboolean refused_without_readiness;
};

/* Boots the guest on A, migrates it to B, collects everything. @env must be
 * set up (mig_env_set_up). FALSE with @error when the run stopped early; what
 * was recorded until then is in @run regardless. */
gboolean mig_run(MigEnv *env, const MigRunConfig *config, MigRun *run, GError **error);
void mig_run_clear(MigRun *run);

/* The time of the first @what among B's changes, 0 when none. */
gint64 mig_run_change_at(const MigRun *run, const char *what);
/* The first sign in @serial that the emulator broke the guest, or NULL. */
const char *mig_run_corruption(const char *serial);

/* Largest gap between consecutive arrivals (MigArrival, sorted) of @a within
 * [from, to], the window's ends counting as arrivals. */
gint64 mig_largest_gap(GArray *a, gint64 from, gint64 to, gint64 *gap_start);

/* The network plane: echo requests that reached the tap of the instance that
 * ran (A's before its STOP, B's from its RESUME). */
typedef struct {
        gint64 blackout;    /* largest gap from the migration's start on, µs */
        gint64 gap_start;   /* where it began */
        gint64 switch_gap;  /* the gap that holds A's STOP (0: none) */
        gint64 send_gap;    /* the sender's own largest gap (scheduling noise) */
        guint sent, lost;   /* requests sent in the window, and those that reached
                            * no running instance */
        guint after_resume; /* requests that reached B's tap after its RESUME */
} MigBlackout;

void mig_run_blackout(const MigRun *run, MigBlackout *b);

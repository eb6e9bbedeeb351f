/*
 * sipmasq RTP load generator (scripts/bench/rtp). Built by run.ts with `cc -O2 -pthread` into a
 * temporary directory; never committed as a binary.
 *
 * One process drives N media streams. Each stream is a UDP socket on the "phone" side and one on the
 * "far" side; the two sides live in different network namespaces (setns() before each socket is
 * made: a socket stays in the namespace it was created in), so the packets cross whatever forwards
 * between them. Both sides share the machine's CLOCK_MONOTONIC, so the send time written into each
 * payload gives the one-way latency directly.
 *
 * Packets are G.711-shaped: 172 bytes = 12-byte RTP header (V=2, PT 0, seq, timestamp += 160, SSRC)
 * + 160 bytes of payload, of which the first 24 carry the bench's own fields (magic, stream, direction,
 * phase, step, send time). 50 packets/s per direction per stream by default; the streams' send times
 * are spread evenly over the 20 ms period (phones are not synchronised), the far side half a period
 * after the phone.
 *
 * Threads: the main thread paces the sends (clock_nanosleep on a 500 us tick, every due packet sent
 * in one pass over the streams); a receiver thread waits in epoll and drains sockets with recvmmsg.
 *
 *   loadgen streams --phone-ns P --far-ns F --streams FILE [--pps 50] [--warmup-ms 2000]
 *                   [--duration-ms 8000] [--drain-ms 500]
 *   loadgen flood   --phone-ns P --far-ns F --streams FILE [--start-pps 12000] [--factor 1.25]
 *                   [--fine 1.04] [--max-pps 400000] [--step-ms 2000] [--drain-ms 300]
 *                   [--loss-limit 0.1] [--deadline-ms 100]
 *
 * Flood: the same streams, every one at the same rate, the total (both directions) ramped in steps.
 * A step's loss counts its packets that never arrived or arrived later than the deadline (100 ms: a
 * packet that late is useless to a jitter buffer; without the deadline, the forwarder's socket buffers,
 * up to a second of traffic near saturation, would hide an overload within a short step). Between
 * steps the generator waits until the forwarder's backlog has drained.
 *
 * FILE has one line per stream: phoneBindIp phoneBindPort phoneDstIp phoneDstPort farBindIp
 * farBindPort farDstIp farDstPort. farDstPort 0: the far side answers wherever the phone's packets
 * come from (learnt from the first one; plain NAT, where only the NAT knows the mapping).
 *
 * Output: progress on stderr; on stdout the marker lines `#measure-start`, `#measure-end`
 * (streams) or `#step-start K PPS`, `#step-end K` (flood) as they happen (the runner samples the
 * forwarder's CPU on them), then one JSON document.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PKT_SIZE 172
#define MAGIC 0x534d5142u /* "SMQB" */
#define MAX_STREAMS 2000
#define MAX_STEPS 48
#define SLOTS (MAX_STEPS + 1) /* slot 0: the measure phase of `streams`; 1..: flood steps */
#define HBUCKETS 3776
#define TICK_NS 500000LL
#define BATCH 64

enum { UP = 0, DOWN = 1 }; /* UP: phone -> far, DOWN: far -> phone */
enum { PH_WARM = 0, PH_MEASURE = 1 };

struct side {
  int fd;
  struct sockaddr_in dst;
  int learn;              /* far side: destination learnt from the first packet received */
  volatile int has_dst;   /* written by the receiver (release), read by the sender (acquire) */
  uint16_t seq;
  uint32_t ts;
  uint64_t next_ns;
};

struct stream {
  struct side phone, far;
  uint64_t sent[2];       /* measure phase, per direction (sender thread) */
  uint64_t recv[2];       /* measure phase, per direction (receiver thread) */
};

static struct stream *streams;
static int nstreams;
static uint64_t slot_sent[SLOTS][2];
static uint64_t slot_recv[SLOTS][2]; /* atomically incremented by the receiver */
static uint64_t slot_late[SLOTS][2]; /* received, but later than the deadline */
static uint64_t deadline_ns = 100000000ull;
static uint64_t slot_dup_or_bad[2];
static uint64_t misrouted;
static uint32_t hist[SLOTS][2][HBUCKETS];
static uint64_t lat_sum[SLOTS][2];
static uint64_t lat_max[SLOTS][2];
static volatile int stop_rx;
static int epfd;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

/* Log-linear histogram: exact below 128 ns, then 64 sub-buckets per power of two (1.6 % wide). */
static int hidx(uint64_t v) {
  if (v < 128) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - 6;
  int idx = shift * 64 + (int)(v >> shift);
  return idx < HBUCKETS ? idx : HBUCKETS - 1;
}

static double hmid(int idx) {
  if (idx < 128) return idx;
  int shift = idx / 64 - 1;
  uint64_t m = (uint64_t)(idx % 64 + 64);
  return (double)(m << shift) + (double)(1ull << shift) / 2.0;
}

/* Percentile (0..100) in microseconds over the given histograms summed. */
static double percentile(uint32_t *const *hs, int nh, double p) {
  uint64_t total = 0;
  for (int h = 0; h < nh; h++)
    for (int i = 0; i < HBUCKETS; i++) total += hs[h][i];
  if (total == 0) return -1;
  uint64_t want = (uint64_t)((p / 100.0) * (double)total);
  if (want >= total) want = total - 1;
  uint64_t acc = 0;
  for (int i = 0; i < HBUCKETS; i++) {
    for (int h = 0; h < nh; h++) acc += hs[h][i];
    if (acc > want) return hmid(i) / 1000.0;
  }
  return hmid(HBUCKETS - 1) / 1000.0;
}

static void enter_ns(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  if (setns(fd, CLONE_NEWNET) != 0) die("setns");
  close(fd);
}

static void parse_addr(struct sockaddr_in *sa, const char *ip, int port) {
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
    fprintf(stderr, "loadgen: bad address %s\n", ip);
    exit(2);
  }
}

static int open_socket(const char *ip, int port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1, buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* Large buffers (FORCE: root): the generator's own sockets must never be where packets are lost. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  struct sockaddr_in sa;
  parse_addr(&sa, ip, port);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    fprintf(stderr, "loadgen: bind %s:%d: %s\n", ip, port, strerror(errno));
    exit(2);
  }
  return fd;
}

/* Read the stream file and open every socket in its namespace. */
static void setup(const char *file, const char *phone_ns, const char *far_ns) {
  FILE *f = fopen(file, "r");
  if (!f) die(file);
  streams = calloc(MAX_STREAMS, sizeof *streams);
  char pb[64], pd[64], fb[64], fd_[64];
  int pbp, pdp, fbp, fdp;
  while (nstreams < MAX_STREAMS &&
         fscanf(f, "%63s %d %63s %d %63s %d %63s %d", pb, &pbp, pd, &pdp, fb, &fbp, fd_, &fdp) == 8) {
    struct stream *s = &streams[nstreams++];
    enter_ns(phone_ns);
    s->phone.fd = open_socket(pb, pbp);
    parse_addr(&s->phone.dst, pd, pdp);
    s->phone.has_dst = 1;
    enter_ns(far_ns);
    s->far.fd = open_socket(fb, fbp);
    s->far.learn = fdp == 0;
    if (!s->far.learn) {
      parse_addr(&s->far.dst, fd_, fdp);
      s->far.has_dst = 1;
    }
  }
  fclose(f);
  if (nstreams == 0) {
    fprintf(stderr, "loadgen: no streams in %s\n", file);
    exit(2);
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < nstreams; i++) {
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.u32 = (uint32_t)(i * 2);
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, streams[i].phone.fd, &ev) != 0) die("epoll_ctl");
    ev.data.u32 = (uint32_t)(i * 2 + 1);
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, streams[i].far.fd, &ev) != 0) die("epoll_ctl");
  }
}

struct payload {
  uint32_t magic;
  uint32_t stream;
  uint8_t dir;
  uint8_t phase;
  uint16_t step;
  uint32_t pad;
  uint64_t sent_ns;
};

/* Send one packet of stream i in direction dir; returns 1 if it went out. */
static int send_one(int i, int dir, int phase, int step) {
  struct side *sd = dir == UP ? &streams[i].phone : &streams[i].far;
  if (!__atomic_load_n(&sd->has_dst, __ATOMIC_ACQUIRE)) return 0;
  uint8_t pkt[PKT_SIZE];
  memset(pkt + 12, 0xff, PKT_SIZE - 12); /* G.711 mu-law silence */
  pkt[0] = 0x80;                         /* RTP version 2, no padding, extension or CSRC */
  pkt[1] = 0;                            /* PT 0 (PCMU), no marker */
  uint16_t seq = htons(sd->seq++);
  uint32_t ts = htonl(sd->ts);
  sd->ts += 160;
  uint32_t ssrc = htonl(0x534d0000u | (uint32_t)(i << 1 | dir));
  memcpy(pkt + 2, &seq, 2);
  memcpy(pkt + 4, &ts, 4);
  memcpy(pkt + 8, &ssrc, 4);
  struct payload pl = {MAGIC, (uint32_t)i, (uint8_t)dir, (uint8_t)phase, (uint16_t)step, 0, now_ns()};
  memcpy(pkt + 12, &pl, sizeof pl);
  ssize_t r = sendto(sd->fd, pkt, PKT_SIZE, 0, (struct sockaddr *)&sd->dst, sizeof sd->dst);
  return r == PKT_SIZE;
}

static void *receiver(void *arg) {
  (void)arg;
  static uint8_t bufs[BATCH][2048];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in from[BATCH];
  struct epoll_event evs[256];
  while (!stop_rx) {
    int n = epoll_wait(epfd, evs, 256, 50);
    for (int e = 0; e < n; e++) {
      int id = (int)evs[e].data.u32;
      int si = id / 2, on_far = id & 1;
      struct side *sd = on_far ? &streams[si].far : &streams[si].phone;
      for (;;) {
        for (int k = 0; k < BATCH; k++) {
          iov[k].iov_base = bufs[k];
          iov[k].iov_len = sizeof bufs[k];
          memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
          msgs[k].msg_hdr.msg_iov = &iov[k];
          msgs[k].msg_hdr.msg_iovlen = 1;
          msgs[k].msg_hdr.msg_name = &from[k];
          msgs[k].msg_hdr.msg_namelen = sizeof from[k];
        }
        int got = recvmmsg(sd->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        uint64_t t = now_ns();
        for (int k = 0; k < got; k++) {
          struct payload pl;
          if (msgs[k].msg_len != PKT_SIZE) continue;
          memcpy(&pl, bufs[k] + 12, sizeof pl);
          int dir = on_far ? UP : DOWN;
          if (pl.magic != MAGIC || pl.dir != dir || pl.stream >= (uint32_t)nstreams) {
            __atomic_add_fetch(&slot_dup_or_bad[dir], 1, __ATOMIC_RELAXED);
            continue;
          }
          if ((int)pl.stream != si) {
            __atomic_add_fetch(&misrouted, 1, __ATOMIC_RELAXED);
            continue;
          }
          if (on_far && sd->learn && !sd->has_dst) {
            sd->dst = from[k];
            __atomic_store_n(&sd->has_dst, 1, __ATOMIC_RELEASE);
          }
          if (pl.phase == PH_WARM) continue;
          int slot = pl.step;
          if (slot >= SLOTS) continue;
          uint64_t lat = t > pl.sent_ns ? t - pl.sent_ns : 0;
          hist[slot][dir][hidx(lat)]++;
          if (lat > deadline_ns) __atomic_add_fetch(&slot_late[slot][dir], 1, __ATOMIC_RELAXED);
          lat_sum[slot][dir] += lat;
          if (lat > lat_max[slot][dir]) lat_max[slot][dir] = lat;
          __atomic_add_fetch(&slot_recv[slot][dir], 1, __ATOMIC_RELAXED);
          if (slot == 0) streams[si].recv[dir]++;
        }
        if (got < BATCH) break;
      }
    }
  }
  return NULL;
}

static void sleep_until(uint64_t t) {
  struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* Spread the streams' first sends over one period from t0; the far side half a period later. */
static void schedule(uint64_t t0, uint64_t period) {
  for (int i = 0; i < nstreams; i++) {
    uint64_t off = period * (uint64_t)i / (uint64_t)nstreams;
    streams[i].phone.next_ns = t0 + off;
    streams[i].far.next_ns = t0 + off + period / 2;
  }
}

struct pace_stats {
  uint64_t late_max_ns;
  uint64_t send_fail;
};

/* Send every due packet until `end`; phase and slot as given (slot < 0: warm-up, nothing counted). */
static void pace(uint64_t end, uint64_t period, int phase, int slot, struct pace_stats *ps) {
  uint64_t tick = now_ns();
  for (;;) {
    uint64_t now = now_ns();
    if (now >= end) break;
    for (int i = 0; i < nstreams; i++) {
      for (int dir = 0; dir < 2; dir++) {
        struct side *sd = dir == UP ? &streams[i].phone : &streams[i].far;
        while (sd->next_ns <= now && sd->next_ns < end) {
          if (now - sd->next_ns > ps->late_max_ns) ps->late_max_ns = now - sd->next_ns;
          sd->next_ns += period;
          if (!__atomic_load_n(&sd->has_dst, __ATOMIC_ACQUIRE)) continue;
          if (!send_one(i, dir, phase, slot < 0 ? 0 : slot)) {
            ps->send_fail++;
            continue;
          }
          if (slot >= 0) {
            slot_sent[slot][dir]++;
            if (slot == 0) streams[i].sent[dir]++;
          }
        }
      }
    }
    /* A pass that took longer than a tick (the generator could not keep up): no backlog of ticks. */
    tick += TICK_NS;
    if (tick < now) tick = now;
    sleep_until(tick < end ? tick : end);
  }
}

static double cpu_seconds(int who, int sys) {
  struct rusage ru;
  getrusage(who, &ru);
  struct timeval tv = sys ? ru.ru_stime : ru.ru_utime;
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void print_dir(const char *name, int slot, int dir) {
  uint64_t sent = slot_sent[slot][dir], recv = __atomic_load_n(&slot_recv[slot][dir], __ATOMIC_RELAXED);
  uint32_t *h[1] = {hist[slot][dir]};
  double loss = sent ? 100.0 * (double)(sent > recv ? sent - recv : 0) / (double)sent : 0;
  printf("\"%s\":{\"sent\":%llu,\"received\":%llu,\"lossPct\":%.4f,\"late\":%llu,\"p50us\":%.1f,"
         "\"p90us\":%.1f,\"p99us\":%.1f,\"p999us\":%.1f,\"meanUs\":%.1f,\"maxUs\":%.1f}",
         name, (unsigned long long)sent, (unsigned long long)recv, loss,
         (unsigned long long)slot_late[slot][dir], percentile(h, 1, 50),
         percentile(h, 1, 90), percentile(h, 1, 99), percentile(h, 1, 99.9),
         recv ? (double)lat_sum[slot][dir] / (double)recv / 1000.0 : -1, (double)lat_max[slot][dir] / 1000.0);
}

static void print_both(int slot) {
  uint32_t *h[2] = {hist[slot][UP], hist[slot][DOWN]};
  printf("\"both\":{\"p50us\":%.1f,\"p90us\":%.1f,\"p99us\":%.1f,\"p999us\":%.1f}", percentile(h, 2, 50),
         percentile(h, 2, 90), percentile(h, 2, 99), percentile(h, 2, 99.9));
}

static uint64_t slot_received(int slot) {
  return __atomic_load_n(&slot_recv[slot][0], __ATOMIC_RELAXED) +
         __atomic_load_n(&slot_recv[slot][1], __ATOMIC_RELAXED);
}

/* Flood: % of the step's packets not received, or received later than the deadline. */
static double slot_loss(int slot) {
  uint64_t s = slot_sent[slot][0] + slot_sent[slot][1];
  uint64_t late = __atomic_load_n(&slot_late[slot][0], __ATOMIC_RELAXED) +
                  __atomic_load_n(&slot_late[slot][1], __ATOMIC_RELAXED);
  uint64_t r = slot_received(slot) - late;
  return s ? 100.0 * (double)(s > r ? s - r : 0) / (double)s : 100.0;
}

/* Wait at least min_ns, then until nothing of this slot arrived for 100 ms (at most 5 s). */
static void drain_slot(int slot, uint64_t min_ns) {
  uint64_t start = now_ns();
  sleep_until(start + min_ns);
  uint64_t last = slot_received(slot);
  while (now_ns() - start < 5000000000ull) {
    sleep_until(now_ns() + 100000000ull);
    uint64_t r = slot_received(slot);
    if (r == last) break;
    last = r;
  }
}

static const char *arg(int argc, char **argv, const char *name, const char *dflt) {
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return dflt;
}

static int run_streams(int argc, char **argv, pthread_t rx) {
  double pps = atof(arg(argc, argv, "--pps", "50"));
  uint64_t warm = (uint64_t)atoll(arg(argc, argv, "--warmup-ms", "2000")) * 1000000ull;
  uint64_t dur = (uint64_t)atoll(arg(argc, argv, "--duration-ms", "8000")) * 1000000ull;
  uint64_t drain = (uint64_t)atoll(arg(argc, argv, "--drain-ms", "500")) * 1000000ull;
  uint64_t period = (uint64_t)(1e9 / pps);
  struct pace_stats ps = {0, 0};
  uint64_t t0 = now_ns() + 20000000ull;
  schedule(t0, period);
  sleep_until(t0);
  pace(t0 + warm, period, PH_WARM, -1, &ps);
  int unlearned = 0;
  for (int i = 0; i < nstreams; i++) unlearned += !__atomic_load_n(&streams[i].far.has_dst, __ATOMIC_ACQUIRE);
  ps.late_max_ns = 0;
  double c0 = cpu_seconds(RUSAGE_SELF, 0) + cpu_seconds(RUSAGE_SELF, 1);
  printf("#measure-start\n");
  fflush(stdout);
  pace(t0 + warm + dur, period, PH_MEASURE, 0, &ps);
  double c1 = cpu_seconds(RUSAGE_SELF, 0) + cpu_seconds(RUSAGE_SELF, 1);
  printf("#measure-end\n");
  fflush(stdout);
  sleep_until(now_ns() + drain);
  stop_rx = 1;
  pthread_join(rx, NULL);
  int with_loss = 0;
  double worst = 0;
  for (int i = 0; i < nstreams; i++)
    for (int d = 0; d < 2; d++) {
      uint64_t s = streams[i].sent[d], r = streams[i].recv[d];
      double l = s ? 100.0 * (double)(s > r ? s - r : 0) / (double)s : 100.0;
      if (l > 0) with_loss++;
      if (l > worst) worst = l;
    }
  /* What the generator managed to send, in % of the nominal N x pps x duration per direction. */
  double nominal = 2.0 * nstreams * pps * ((double)dur / 1e9);
  printf("{\"mode\":\"streams\",\"n\":%d,\"ppsPerDirection\":%.0f,\"size\":%d,\"durationMs\":%.0f,"
         "\"sentPctOfNominal\":%.2f,",
         nstreams, pps, PKT_SIZE, (double)dur / 1e6,
         100.0 * (double)(slot_sent[0][0] + slot_sent[0][1]) / nominal);
  print_dir("up", 0, UP);
  printf(",");
  print_dir("down", 0, DOWN);
  printf(",");
  print_both(0);
  printf(",\"streamDirsWithLoss\":%d,\"worstStreamLossPct\":%.3f,\"unlearned\":%d,\"misrouted\":%llu,"
         "\"bad\":%llu,\"sendFail\":%llu,\"sendLateMaxUs\":%.1f,\"loadgenCpuPct\":%.2f}\n",
         with_loss, worst, unlearned, (unsigned long long)misrouted,
         (unsigned long long)(slot_dup_or_bad[0] + slot_dup_or_bad[1]), (unsigned long long)ps.send_fail,
         (double)ps.late_max_ns / 1000.0, 100.0 * (c1 - c0) / ((double)dur / 1e9));
  return 0;
}

static int run_flood(int argc, char **argv, pthread_t rx) {
  double rate = atof(arg(argc, argv, "--start-pps", "12000"));
  double coarse = atof(arg(argc, argv, "--factor", "1.25"));
  double fine = atof(arg(argc, argv, "--fine", "1.04"));
  double max_pps = atof(arg(argc, argv, "--max-pps", "400000"));
  uint64_t step_ns = (uint64_t)atoll(arg(argc, argv, "--step-ms", "2000")) * 1000000ull;
  uint64_t drain = (uint64_t)atoll(arg(argc, argv, "--drain-ms", "300")) * 1000000ull;
  double limit = atof(arg(argc, argv, "--loss-limit", "0.1"));
  deadline_ns = (uint64_t)atoll(arg(argc, argv, "--deadline-ms", "100")) * 1000000ull;
  struct pace_stats ps = {0, 0};
  /* Warm-up at 50 pps per direction: latching, learning, first conntrack entries. */
  uint64_t t0 = now_ns() + 20000000ull;
  schedule(t0, 20000000ull);
  sleep_until(t0);
  pace(t0 + 1000000000ull, 20000000ull, PH_WARM, -1, &ps);
  sleep_until(now_ns() + drain);
  struct {
    double target, sent, delivered, loss, cpu;
    uint64_t late;
    int pass;
  } res[MAX_STEPS];
  /*
   * Ramp by `coarse` until a rate fails twice in a row (a first failure is retried once at the same
   * rate: one hiccup does not end the ramp); then refine from the best passing rate by `fine` until a
   * rate fails twice or the failed rate is reached. Saturation: the highest rate that passed.
   */
  int nsteps = 0, fails_in_row = 0, refining = 0;
  double best = 0, ceiling = max_pps;
  const char *why = "max-steps";
  while (nsteps < MAX_STEPS) {
    if (rate > max_pps) {
      why = "max-pps";
      break;
    }
    if (refining && rate >= ceiling) {
      why = "loss";
      break;
    }
    int slot = nsteps + 1;
    uint64_t period = (uint64_t)(1e9 * 2.0 * nstreams / rate);
    ps.late_max_ns = 0;
    double c0 = cpu_seconds(RUSAGE_SELF, 0) + cpu_seconds(RUSAGE_SELF, 1);
    printf("#step-start %d %.0f\n", slot, rate);
    fflush(stdout);
    uint64_t s0 = now_ns() + 1000000ull;
    schedule(s0, period);
    sleep_until(s0);
    pace(s0 + step_ns, period, PH_MEASURE, slot, &ps);
    double c1 = cpu_seconds(RUSAGE_SELF, 0) + cpu_seconds(RUSAGE_SELF, 1);
    printf("#step-end %d\n", slot);
    fflush(stdout);
    /* The forwarder's backlog must be gone before the next step starts. */
    drain_slot(slot, drain);
    double secs = (double)step_ns / 1e9;
    uint64_t sent = slot_sent[slot][0] + slot_sent[slot][1];
    uint64_t recv = slot_received(slot);
    double loss = slot_loss(slot);
    /* A step the generator itself could not pace (sent < 97 % of the target) proves nothing. */
    int loadgen_limited = (double)sent < 0.97 * rate * secs;
    int pass = loss < limit && !loadgen_limited;
    res[nsteps].target = rate;
    res[nsteps].sent = (double)sent / secs;
    res[nsteps].delivered = (double)recv / secs;
    res[nsteps].loss = loss;
    res[nsteps].cpu = 100.0 * (c1 - c0) / secs;
    res[nsteps].late = ps.late_max_ns;
    res[nsteps].pass = pass;
    nsteps++;
    fprintf(stderr, "loadgen: flood step %d: %.0f pps offered, %.0f sent, %.0f received (%.0f late), %.3f %% lost or late -> %s\n",
            slot, rate, (double)sent / secs, (double)recv / secs,
            (double)(slot_late[slot][0] + slot_late[slot][1]) / secs, loss,
            pass ? "pass" : (loadgen_limited ? "loadgen-limited" : "fail"));
    if (loadgen_limited) {
      why = "loadgen";
      break;
    }
    if (pass) {
      if (rate > best) best = rate;
      fails_in_row = 0;
      rate *= refining ? fine : coarse;
    } else if (++fails_in_row >= 2) {
      if (refining || best == 0 || fine <= 1.0) {
        why = "loss";
        break;
      }
      refining = 1;
      ceiling = rate;
      fails_in_row = 0;
      rate = best * fine;
    }
  }
  stop_rx = 1;
  pthread_join(rx, NULL);
  printf("{\"mode\":\"flood\",\"n\":%d,\"lossLimitPct\":%.3f,\"deadlineMs\":%.0f,\"stepMs\":%.0f,"
         "\"saturationPps\":%.0f,\"stoppedBy\":\"%s\",\"steps\":[",
         nstreams, limit, (double)deadline_ns / 1e6, (double)step_ns / 1e6, best, why);
  for (int k = 0; k < nsteps; k++) {
    int slot = k + 1;
    printf("%s{\"step\":%d,\"targetPps\":%.0f,\"sentPps\":%.0f,\"deliveredPps\":%.0f,\"lossOrLatePct\":%.4f,"
           "\"pass\":%s,\"loadgenCpuPct\":%.1f,\"sendLateMaxUs\":%.1f,",
           k ? "," : "", slot, res[k].target, res[k].sent, res[k].delivered, res[k].loss,
           res[k].pass ? "true" : "false", res[k].cpu, (double)res[k].late / 1000.0);
    print_dir("up", slot, UP);
    printf(",");
    print_dir("down", slot, DOWN);
    printf(",");
    print_both(slot);
    printf("}");
  }
  printf("]}\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "streams") != 0 && strcmp(argv[1], "flood") != 0)) {
    fprintf(stderr, "usage: loadgen streams|flood --phone-ns P --far-ns F --streams FILE [options]\n");
    return 2;
  }
  struct rlimit rl = {8192, 8192};
  setrlimit(RLIMIT_NOFILE, &rl);
  const char *phone_ns = arg(argc, argv, "--phone-ns", NULL);
  const char *far_ns = arg(argc, argv, "--far-ns", NULL);
  const char *file = arg(argc, argv, "--streams", NULL);
  if (!phone_ns || !far_ns || !file) {
    fprintf(stderr, "loadgen: --phone-ns, --far-ns and --streams are required\n");
    return 2;
  }
  setup(file, phone_ns, far_ns);
  pthread_t rx;
  if (pthread_create(&rx, NULL, receiver, NULL) != 0) die("pthread_create");
  return strcmp(argv[1], "streams") == 0 ? run_streams(argc, argv, rx) : run_flood(argc, argv, rx);
}

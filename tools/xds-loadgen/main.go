// Command xds-loadgen is the xDS benchmark's fleet (bench/xds/xds-scale-bench.ts): N simulated
// Envoys, each its own HTTP/2 connection and ADS stream (SotW or delta), subscribing as Envoy does
// and ACKing every response, against any ADS server (Portcullis or the go-control-plane peer).
// Driven over stdin/stdout, one JSON document per result line:
//
//	argv: -addr HOST:PORT -clients N [-delta] [-fleet F] [-batch 100] [-timeout 60s] [-changed RDS_NAME]
//	      connects the clients in batches, then prints  SYNCED {"seconds":..,"synced":..}
//	stdin "round" → ARMED; the driver publishes a change; then
//	      ROUND {"firstMs","p50Ms","p99Ms","lastMs","acked","bytesPerClient","routePushesPerClient","otherPushes"}
//	      (per client: from ARMED to the ACK of the first route response after it that carries the
//	      -changed route configuration, any with no -changed; bytes: every type's responses)
//	stdin "storm" → every stream dropped and reconnected at once: STORM {"firstMs","p50Ms","p99Ms","lastMs","synced","bytesPerClient","pushesPerClient"}
//	stdin "stats" → STATS {"rssBytes":..}     stdin EOF → exit
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	semver "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

type config struct {
	addr    string
	fleet   string
	delta   bool
	timeout time.Duration
	// changed: the route configuration holding the changed route; a round waits for the ACK of the
	// RDS response carrying it ("": the first RDS response, as with one route table).
	changed string
}

var typeSemver = semver.SemanticVersion{MajorNumber: 1, MinorNumber: 40}

// armed is the round's start (unix ns) while a round is measured, 0 otherwise.
var armed atomic.Int64

type fleet struct {
	cfg     *config
	clients []*client
	first   []atomic.Int64 // per client: unix ns of the first RDS ACK after ARMED
}

func (f *fleet) onRouteAck(c *client, now int64) {
	if t0 := armed.Load(); t0 != 0 && now >= t0 {
		f.first[c.id].CompareAndSwap(0, now)
	}
}

func percentiles(ns []int64, t0 int64) map[string]float64 {
	ms := make([]float64, 0, len(ns))
	for _, t := range ns {
		if t > 0 {
			ms = append(ms, float64(t-t0)/1e6)
		}
	}
	sort.Float64s(ms)
	at := func(p float64) float64 {
		if len(ms) == 0 {
			return -1
		}
		i := int(p/100*float64(len(ms))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return ms[min(i, len(ms)-1)]
	}
	return map[string]float64{"firstMs": at(0), "p50Ms": at(50), "p99Ms": at(99), "lastMs": at(100), "acked": float64(len(ms))}
}

// waitFor polls until done() or the timeout; true when done.
func waitFor(done func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

func (f *fleet) countSynced(from, to int) int {
	n := 0
	for _, c := range f.clients[from:to] {
		if c.syncAt.Load() != 0 {
			n++
		}
	}
	return n
}

func (f *fleet) connect(batch int) (float64, int) {
	start := time.Now()
	for i := 0; i < len(f.clients); i += batch {
		end := min(len(f.clients), i+batch)
		for _, c := range f.clients[i:end] {
			if err := c.start(); err != nil {
				fmt.Fprintln(os.Stderr, "dial:", err)
			}
		}
		if !waitFor(func() bool { return f.countSynced(i, end) == end-i }, f.cfg.timeout) {
			fmt.Fprintf(os.Stderr, "clients %d..%d not synced within %s\n", i, end-1, f.cfg.timeout)
			break
		}
	}
	return time.Since(start).Seconds(), f.countSynced(0, len(f.clients))
}

func (f *fleet) round(out func(string, any)) {
	n := len(f.clients)
	for i := range f.clients {
		f.first[i].Store(0)
	}
	before := f.received()
	t0 := time.Now().UnixNano()
	armed.Store(t0)
	out("ARMED", nil)
	waitFor(func() bool {
		for i := range f.clients {
			if f.first[i].Load() == 0 {
				return false
			}
		}
		return true
	}, f.cfg.timeout)
	// A moment more, to see whether anything but the route configuration was pushed.
	time.Sleep(300 * time.Millisecond)
	armed.Store(0)
	firsts := make([]int64, n)
	for i := range f.clients {
		firsts[i] = f.first[i].Load()
	}
	got := f.received().since(before)
	routes := got.pushes[kindRDS]
	res := percentiles(firsts, t0)
	res["bytesPerClient"] = float64(got.bytes) / float64(n)
	res["routePushesPerClient"] = float64(routes) / float64(n)
	res["otherPushes"] = float64(got.total() - routes)
	out("ROUND", res)
}

// tally is what the fleet's clients have received, summed over them: response bytes, and
// responses per type.
type tally struct {
	bytes  int64
	pushes [numKinds]int64
}

func (f *fleet) received() tally {
	var t tally
	for _, c := range f.clients {
		t.bytes += c.bytes.Load()
		for k := range c.pushes {
			t.pushes[k] += c.pushes[k].Load()
		}
	}
	return t
}

// since is what was received after `before`.
func (t tally) since(before tally) tally {
	t.bytes -= before.bytes
	for k := range t.pushes {
		t.pushes[k] -= before.pushes[k]
	}
	return t
}

// total is the responses of every type.
func (t tally) total() int64 {
	var n int64
	for _, p := range t.pushes {
		n += p
	}
	return n
}

func (f *fleet) storm(out func(string, any)) {
	before := f.received()
	var wg sync.WaitGroup
	for _, c := range f.clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop() }()
	}
	wg.Wait()
	t0 := time.Now().UnixNano()
	for _, c := range f.clients {
		if err := c.start(); err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
		}
	}
	waitFor(func() bool { return f.countSynced(0, len(f.clients)) == len(f.clients) }, f.cfg.timeout)
	syncs := make([]int64, len(f.clients))
	for i, c := range f.clients {
		syncs[i] = c.syncAt.Load()
	}
	res := percentiles(syncs, t0)
	res["synced"] = res["acked"]
	delete(res, "acked")
	got := f.received().since(before)
	res["bytesPerClient"] = float64(got.bytes) / float64(len(f.clients))
	res["pushesPerClient"] = float64(got.total()) / float64(len(f.clients))
	out("STORM", res)
}

var vmRSS = regexp.MustCompile(`VmRSS:\s+(\d+) kB`)

func rssBytes() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	m := vmRSS.FindSubmatch(b)
	if m == nil {
		return -1
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb * 1024
}

// errors counts the clients whose stream failed at least once (and the retries), printing the
// first error.
func (f *fleet) errors() (int, int64) {
	n, retries := 0, int64(0)
	for _, c := range f.clients {
		if e := c.err.Load(); e != nil {
			if n == 0 {
				fmt.Fprintln(os.Stderr, "stream error:", e)
			}
			n++
		}
		retries += c.retries.Load()
	}
	return n, retries
}

func main() {
	cfg := &config{}
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:18000", "ADS server address")
	flag.StringVar(&cfg.fleet, "fleet", "bench", "node.cluster of every client")
	flag.BoolVar(&cfg.delta, "delta", false, "delta ADS instead of state of the world")
	flag.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "bound of every phase")
	flag.StringVar(&cfg.changed, "changed", "", "route configuration carrying a round's change (default: any)")
	clients := flag.Int("clients", 10, "simulated Envoys (at most 5000)")
	batch := flag.Int("batch", 100, "clients connecting at once for the initial sync")
	flag.Parse()
	n := max(1, min(5000, *clients))

	f := &fleet{cfg: cfg, clients: make([]*client, n), first: make([]atomic.Int64, n)}
	for i := range f.clients {
		f.clients[i] = &client{id: i, cfg: cfg, fleet: f}
	}
	var mu sync.Mutex
	out := func(tag string, v any) {
		mu.Lock()
		defer mu.Unlock()
		if v == nil {
			fmt.Println(tag)
			return
		}
		b, _ := json.Marshal(v)
		fmt.Printf("%s %s\n", tag, b)
	}
	seconds, synced := f.connect(*batch)
	failed, retries := f.errors()
	out("SYNCED", map[string]any{"seconds": seconds, "synced": synced, "failedClients": failed, "retries": retries})
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "round":
			f.round(out)
		case "storm":
			f.storm(out)
		case "stats":
			failed, retries := f.errors()
			out("STATS", map[string]any{"rssBytes": rssBytes(), "failedClients": failed, "retries": retries})
		}
	}
	for _, c := range f.clients {
		c.stop()
	}
}

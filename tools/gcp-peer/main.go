// Command gcp-peer is the go-control-plane side of the xDS benchmark (bench/xds/ads-bench.ts): it
// serves the benchmark's snapshot files over ADS with go-control-plane's snapshot cache, driven by
// the same stdin/stdout line protocol as the Portcullis bench server:
//
//	argv: -snapshot FILE [-port N]        stdout: READY <port>
//	stdin "publish FILE"  → PUBLISHED     stdin "stats" → STATS {"heapBytes":..,"encodes":-1}
//
// Nodes are keyed by node.cluster (the fleet), as Portcullis does, so one snapshot serves them all.
// Route scopes (the file's `scopes`, ScopedRouteConfigurations) are served as go-control-plane's
// ScopedRoute type (SRDS), which v0.14's snapshot cache holds like any other type.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

	// Message types the snapshot's JSON names in "@type"; importing registers them for protojson.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/http/early_header_mutation/header_mutation/v3"
)

// fleetOf keys the snapshot cache by node.cluster.
type fleetOf struct{}

func (fleetOf) ID(node *core.Node) string { return node.GetCluster() }

type benchResource struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Value   json.RawMessage `json:"value"`
}

// benchFile is compiler/envoy/resources.ts's EnvoyResources as JSON.
type benchFile struct {
	Fleet     string          `json:"fleet"`
	Clusters  []benchResource `json:"clusters"`
	Endpoints []benchResource `json:"endpoints"`
	Listeners []benchResource `json:"listeners"`
	Routes    []benchResource `json:"routes"`
	Scopes    []benchResource `json:"scopes"`
}

func decode(typeURL string, r benchResource) (types.Resource, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.Value, &fields); err != nil {
		return nil, err
	}
	fields["@type"], _ = json.Marshal(typeURL)
	withType, _ := json.Marshal(fields)
	any := &anypb.Any{}
	if err := protojson.Unmarshal(withType, any); err != nil {
		return nil, fmt.Errorf("%s %s: %w", typeURL, r.Name, err)
	}
	msg, err := any.UnmarshalNew()
	if err != nil {
		return nil, err
	}
	return msg.(types.Resource), nil
}

// load builds a snapshot with one version per type: a hash of its (name, version) pairs, so an
// unchanged type keeps its version and is not pushed again.
func load(path string) (string, *cache.Snapshot, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var f benchFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", nil, err
	}
	snap := &cache.Snapshot{}
	for _, t := range []struct {
		typ  types.ResponseType
		url  string
		list []benchResource
	}{
		{types.Cluster, resource.ClusterType, f.Clusters},
		{types.Endpoint, resource.EndpointType, f.Endpoints},
		{types.Listener, resource.ListenerType, f.Listeners},
		{types.Route, resource.RouteType, f.Routes},
		{types.ScopedRoute, resource.ScopedRouteType, f.Scopes},
	} {
		h := sha256.New()
		items := make([]types.Resource, 0, len(t.list))
		for _, r := range t.list {
			msg, err := decode(t.url, r)
			if err != nil {
				return "", nil, err
			}
			items = append(items, msg)
			h.Write([]byte(r.Name + "\x00" + r.Version + "\n"))
		}
		snap.Resources[t.typ] = cache.NewResources(hex.EncodeToString(h.Sum(nil))[:16], items)
	}
	if err := snap.ConstructVersionMap(); err != nil {
		return "", nil, err
	}
	return f.Fleet, snap, nil
}

func main() {
	snapshotPath := flag.String("snapshot", "", "EnvoyResources JSON to serve first")
	port := flag.Int("port", 0, "loopback port (0 picks one)")
	flag.Parse()

	ctx := context.Background()
	snapshots := cache.NewSnapshotCache(true, fleetOf{}, nil)
	publish := func(path string) {
		fleet, snap, err := load(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		if err := snapshots.SetSnapshot(ctx, fleet, snap); err != nil {
			fmt.Fprintln(os.Stderr, "set snapshot:", err)
			os.Exit(1)
		}
	}
	publish(*snapshotPath)

	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	grpcServer := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(grpcServer, server.NewServer(ctx, snapshots, nil))
	go func() { _ = grpcServer.Serve(lis) }()
	fmt.Printf("READY %d\n", lis.Addr().(*net.TCPAddr).Port)

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "publish":
			publish(fields[1])
			fmt.Println("PUBLISHED")
		case "stats":
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Printf("STATS {\"heapBytes\":%d,\"encodes\":-1}\n", m.HeapInuse)
		}
	}
	grpcServer.Stop()
}

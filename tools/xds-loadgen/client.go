package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

const (
	typeCDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeEDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	typeLDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	// typeSRDS: route scopes, subscribed (wildcard) only when a listener's HCM has scoped_routes.
	typeSRDS = "type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration"
)

// Kind indexes: kindRDS's ACKs time a change; kindSRDS counts only for a scoped listener.
const (
	kindRDS  = 3
	kindSRDS = 4
	numKinds = 5
)

var kinds = map[string]int{typeCDS: 0, typeEDS: 1, typeLDS: 2, typeRDS: kindRDS, typeSRDS: kindSRDS}

// scanCodec sends requests as protobuf messages and reads of a response only what the load
// generator needs, straight from gRPC's buffers (scan.go): 1,000 clients receiving a 2.4 MB route
// table cost a scan each, no decode and no copy.
type scanCodec struct{ delta, names bool }

func (scanCodec) Name() string { return "proto" }
func (scanCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := proto.Marshal(v.(proto.Message))
	return mem.BufferSlice{mem.SliceBuffer(b)}, err
}
func (c scanCodec) Unmarshal(data mem.BufferSlice, v any) error {
	out := v.(*received)
	r, err := scanResponse(data, c.delta, c.names)
	*out = received{response: r, size: data.Len()}
	return err
}

// client is one simulated Envoy: one connection, one ADS stream (SotW or delta), subscribing in
// Envoy's order (CDS wildcard; EDS for the EDS clusters CDS named; LDS wildcard once the clusters
// are warm; RDS for the route configurations the listeners' HCMs name, or, for an HCM with
// scoped_routes, SRDS wildcard and then RDS for every scope's route configuration) and ACKing
// every response.
type client struct {
	id      int
	cfg     *config
	fleet   *fleet
	acked   [numKinds]atomic.Int64 // ACKs sent, per type
	bytes   atomic.Int64           // response bytes received
	pushes  [numKinds]atomic.Int64 // responses received, per type
	scoped  atomic.Bool            // a listener's HCM has scoped routes: SRDS is part of the sync
	lastRDS atomic.Int64           // unix ns of the last RDS ACK sent
	syncAt  atomic.Int64           // unix ns when every type (SRDS only if scoped) was first ACKed on the current stream
	cancel  context.CancelFunc
	conn    *grpc.ClientConn
	done    chan struct{}
	err     atomic.Value
	retries atomic.Int64 // streams opened again after a failure
}

func (c *client) node() *core.Node {
	return &core.Node{
		Id:            fmt.Sprintf("loadgen-%d", c.id),
		Cluster:       c.cfg.fleet,
		UserAgentName: "envoy",
		UserAgentVersionType: &core.Node_UserAgentBuildVersion{UserAgentBuildVersion: &core.BuildVersion{
			Version: &typeSemver,
		}},
	}
}

func (c *client) synced() bool {
	for i := range c.acked {
		if c.acked[i].Load() == 0 && (i != kindSRDS || c.scoped.Load()) {
			return false
		}
	}
	return true
}

// start dials and runs the stream in its own goroutine until stop().
func (c *client) start() error {
	conn, err := grpc.NewClient(c.cfg.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(512<<20), grpc.ForceCodecV2(scanCodec{delta: c.cfg.delta, names: c.cfg.changed != ""})))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.conn, c.cancel, c.done = conn, cancel, make(chan struct{})
	for i := range c.acked {
		c.acked[i].Store(0)
	}
	c.scoped.Store(false)
	c.syncAt.Store(0)
	go func() {
		defer close(c.done)
		// A stream that fails is opened again after a back-off, as Envoy does; the last error is kept.
		for backoff := 100 * time.Millisecond; ctx.Err() == nil; backoff = min(2*backoff, 5*time.Second) {
			if err := c.run(ctx, conn); err != nil && ctx.Err() == nil {
				c.err.Store(err)
				c.retries.Add(1)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)))):
			}
		}
	}()
	return nil
}

func (c *client) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
	_ = c.conn.Close()
	c.cancel = nil
}

// noteAck counts an ACK; an RDS one carrying the changed route configuration (-changed; any RDS
// response without the flag) ends the client's wait in a measured round.
func (c *client) noteAck(kind int, r response) {
	c.acked[kind].Add(1)
	now := time.Now().UnixNano()
	if kind == kindRDS && (c.cfg.changed == "" || r.names[c.cfg.changed]) {
		c.lastRDS.Store(now)
		c.fleet.onRouteAck(c, now)
	}
	if c.syncAt.Load() == 0 && c.synced() {
		c.syncAt.Store(now)
	}
}

var adsDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// protocol is what differs between the two ADS variants: how a subscription and an ACK are sent.
type protocol interface {
	method() string
	// subscribe asks for `names` of a type (nil: wildcard), sending only when something changed.
	subscribe(typeURL string, names []string) error
	ack(r response) error
}

type sotw struct {
	stream grpc.ClientStream
	node   *core.Node
	names  map[string][]string
	sent   map[string]bool
}

func (*sotw) method() string { return "StreamAggregatedResources" }

func (p *sotw) send(r *discovery.DiscoveryRequest) error {
	r.Node, p.node = p.node, nil // the node goes on the first request only, as Envoy sends it
	return p.stream.SendMsg(r)
}

func (p *sotw) subscribe(typeURL string, names []string) error {
	if p.sent[typeURL] && equal(names, p.names[typeURL]) {
		return nil
	}
	p.sent[typeURL], p.names[typeURL] = true, names
	return p.send(&discovery.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: names})
}

func (p *sotw) ack(r response) error {
	return p.send(&discovery.DiscoveryRequest{TypeUrl: r.typeURL, VersionInfo: r.version, ResponseNonce: r.nonce, ResourceNames: p.names[r.typeURL]})
}

type delta struct {
	stream     grpc.ClientStream
	node       *core.Node
	subscribed map[string][]string
	sent       map[string]bool
}

func (*delta) method() string { return "DeltaAggregatedResources" }

func (p *delta) send(r *discovery.DeltaDiscoveryRequest) error {
	r.Node, p.node = p.node, nil
	return p.stream.SendMsg(r)
}

// subscribe sends the names not subscribed yet (a wildcard type: one request with none).
func (p *delta) subscribe(typeURL string, names []string) error {
	add := missing(names, p.subscribed[typeURL])
	if p.sent[typeURL] && len(add) == 0 {
		return nil
	}
	p.sent[typeURL], p.subscribed[typeURL] = true, append(p.subscribed[typeURL], add...)
	return p.send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeURL, ResourceNamesSubscribe: add})
}

func (p *delta) ack(r response) error {
	return p.send(&discovery.DeltaDiscoveryRequest{TypeUrl: r.typeURL, ResponseNonce: r.nonce})
}

// run follows Envoy's order on one stream: CDS (wildcard); on clusters, EDS for the EDS clusters
// (before the CDS ACK, as Envoy warms clusters first); once endpoints arrived, LDS (wildcard); on
// listeners, RDS for the route configurations their HCMs name; every response ACKed.
func (c *client) run(ctx context.Context, conn *grpc.ClientConn) error {
	var p protocol
	if c.cfg.delta {
		p = &delta{node: c.node(), subscribed: map[string][]string{}, sent: map[string]bool{}}
	} else {
		p = &sotw{node: c.node(), names: map[string][]string{}, sent: map[string]bool{}}
	}
	stream, err := conn.NewStream(ctx, adsDesc, "/envoy.service.discovery.v3.AggregatedDiscoveryService/"+p.method())
	if err != nil {
		return err
	}
	if s, ok := p.(*sotw); ok {
		s.stream = stream
	} else {
		p.(*delta).stream = stream
	}
	if err := p.subscribe(typeCDS, nil); err != nil {
		return err
	}
	for {
		var in received
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		r := in.response
		kind, ok := kinds[r.typeURL]
		if !ok {
			continue
		}
		c.bytes.Add(int64(in.size))
		c.pushes[kind].Add(1)
		if err := c.follow(p, kind, r); err != nil {
			return err
		}
		if err := p.ack(r); err != nil {
			return err
		}
		c.noteAck(kind, r)
		if kind == 1 {
			if err := p.subscribe(typeLDS, nil); err != nil {
				return err
			}
		}
	}
}

// follow subscribes to what a response names: EDS from clusters; RDS (or SRDS, for scoped routes)
// from listeners; RDS from scopes.
func (c *client) follow(p protocol, kind int, r response) error {
	switch kind {
	case 0:
		eds, err := edsNames(r.resources)
		if err != nil {
			return err
		}
		return p.subscribe(typeEDS, eds)
	case 2:
		rds, scoped, err := rdsNames(r.resources)
		if err != nil {
			return err
		}
		if scoped {
			c.scoped.Store(true)
			if err := p.subscribe(typeSRDS, nil); err != nil {
				return err
			}
		}
		if len(rds) == 0 {
			return nil
		}
		return p.subscribe(typeRDS, rds)
	case kindSRDS:
		rds, err := scopeRouteNames(r.resources)
		if err != nil {
			return err
		}
		return p.subscribe(typeRDS, rds)
	}
	return nil
}

// scopeRouteNames: the route configurations the scopes name. A SotW response holds every scope, so
// this is the whole RDS subscription; a delta one only the changed scopes, whose names the delta
// protocol adds to what it subscribed.
func scopeRouteNames(resources [][]byte) ([]string, error) {
	out := make([]string, 0, len(resources))
	for _, b := range resources {
		var s route.ScopedRouteConfiguration
		if err := proto.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		out = append(out, s.GetRouteConfigurationName())
	}
	return out, nil
}

// edsNames: the EDS clusters' service names (the cluster's name when unset), as Envoy asks them.
func edsNames(resources [][]byte) ([]string, error) {
	var out []string
	for _, b := range resources {
		var cl cluster.Cluster
		if err := proto.Unmarshal(b, &cl); err != nil {
			return nil, err
		}
		if cl.GetType() != cluster.Cluster_EDS {
			continue
		}
		name := cl.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = cl.GetName()
		}
		out = append(out, name)
	}
	return out, nil
}

// rdsNames: the route configurations the listeners' HTTP connection managers get over RDS, and
// whether one of them has scoped routes over SRDS (whose scopes then name route configurations).
func rdsNames(resources [][]byte) ([]string, bool, error) {
	var out []string
	scoped := false
	seen := map[string]bool{}
	for _, b := range resources {
		var l listener.Listener
		if err := proto.Unmarshal(b, &l); err != nil {
			return nil, false, err
		}
		chains := append([]*listener.FilterChain{}, l.GetFilterChains()...)
		if l.GetDefaultFilterChain() != nil {
			chains = append(chains, l.GetDefaultFilterChain())
		}
		for _, fc := range chains {
			for _, f := range fc.GetFilters() {
				var m hcm.HttpConnectionManager
				if f.GetTypedConfig() == nil || f.GetTypedConfig().UnmarshalTo(&m) != nil {
					continue
				}
				if n := m.GetRds().GetRouteConfigName(); n != "" && !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
				if m.GetScopedRoutes().GetScopedRds() != nil {
					scoped = true
				}
			}
		}
	}
	return out, scoped, nil
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func missing(want, have []string) []string {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	var out []string
	for _, w := range want {
		if !set[w] {
			out = append(out, w)
		}
	}
	return out
}

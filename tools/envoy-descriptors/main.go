// Command envoy-descriptors writes a FileDescriptorSet of the Envoy v3 API (the
// version pinned in go.mod), plus the rate-limit service's RateLimitConfig, to stdout. The xDS server loads it to encode the
// resources the compiler produces, so the wire format matches the Envoy release
// Portcullis targets rather than the older API snapshot bundled with grpc-js-xds.
package main

import (
	"os"
	"sort"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// Every Envoy API package the compiler emits; importing them registers their descriptors.
	_ "portcullis/tools/envoy-descriptors/envoyapi"
)

func main() {
	set := &descriptorpb.FileDescriptorSet{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		return true
	})
	sort.Slice(set.File, func(i, j int) bool { return set.File[i].GetName() < set.File[j].GetName() })
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		panic(err)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		panic(err)
	}
}

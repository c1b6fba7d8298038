// Command wire-oracle is the reference the xDS encoder's bytes are compared with
// (test/xds-server/encode-go-parity.test.ts): go-control-plane's generated Envoy types,
// protojson to read each resource's proto3 JSON and protobuf-go's proto.Marshal to write it,
// as a go-control-plane server would put it on the wire.
//
// stdin: a JSON array of {"type": "<full message name>", "json": {...}}.
// stdout: a JSON array, one entry per input: {"bytes": "<base64>"} (absent: no bytes)
// or {"error": "..."}.
// Marshal is deterministic (map entries sorted by key) so that equal content gives equal bytes.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The Envoy API packages the compiler emits; importing them registers their types.
	_ "portcullis/tools/envoy-descriptors/envoyapi"
)

type item struct {
	Type string          `json:"type"`
	JSON json.RawMessage `json:"json"`
}

type result struct {
	Bytes []byte `json:"bytes,omitempty"`
	Error string `json:"error,omitempty"`
}

func marshal(it item) ([]byte, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(it.Type))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", it.Type, err)
	}
	msg := mt.New().Interface()
	if err := protojson.Unmarshal(it.JSON, msg); err != nil {
		return nil, fmt.Errorf("%s: %w", it.Type, err)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(msg)
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var items []item
	if err := json.Unmarshal(in, &items); err != nil {
		fmt.Fprintln(os.Stderr, "input:", err)
		os.Exit(2)
	}
	out := make([]result, len(items))
	for i, it := range items {
		b, err := marshal(it)
		if err != nil {
			out[i].Error = err.Error()
		}
		out[i].Bytes = b
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

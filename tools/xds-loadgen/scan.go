package main

import (
	"encoding/binary"
	"errors"
	"io"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// response is what the load generator reads of a (Delta)DiscoveryResponse.
type response struct {
	typeURL string
	version string
	nonce   string
	// resources: the messages inside the Anys (only for CDS, LDS and SRDS, which are decoded).
	resources [][]byte
	// names: the resources' names, when the load generator waits for one (-changed).
	names map[string]bool
}

// received is a scanned response and its size on the wire.
type received struct {
	response
	size int
}

// scanResponse reads DiscoveryResponse (version_info=1, resources=2 Any, type_url=4, nonce=5) or
// DeltaDiscoveryResponse (system_version_info=1, resources=2 Resource{resource=2 Any}, type_url=4,
// nonce=5). The first pass walks gRPC's buffers, skipping the resources (but for their names, with
// `names`); only a CDS, LDS or SRDS response (small: a few clusters, one listener, the scopes' keys)
// is then copied out to read its resources.
func scanResponse(data mem.BufferSlice, delta, names bool) (response, error) {
	r, err := scanFields(data, delta, names)
	if err != nil || (r.typeURL != typeCDS && r.typeURL != typeLDS && r.typeURL != typeSRDS) {
		return r, err
	}
	b := data.Materialize()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		if num == 2 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[:n])
			if delta {
				v = field(v, 2)
			}
			r.resources = append(r.resources, field(v, 2))
		}
		b = b[n:]
	}
	return r, nil
}

// scanFields reads fields 1, 4 and 5 and skips everything else, without copying the buffers; with
// `names`, also each resource's name (field 2), for a round that waits for one route configuration.
func scanFields(data mem.BufferSlice, delta, names bool) (response, error) {
	var r response
	data.Ref() // the reader frees what it has read; gRPC frees the slice itself after Unmarshal
	rd := data.Reader()
	defer rd.Close()
	if names {
		r.names = map[string]bool{}
	}
	err := fields(rd, rd.Remaining(), func(num protowire.Number, n int) (bool, error) {
		switch {
		case num == 1 || num == 4 || num == 5:
			v, err := readString(rd, n)
			switch num {
			case 1:
				r.version = v
			case 4:
				r.typeURL = v
			default:
				r.nonce = v
			}
			return true, err
		case num == 2 && names:
			name, err := nameOf(rd, n, delta)
			r.names[name] = true
			return true, err
		}
		return false, nil
	})
	if err == nil && r.typeURL == "" {
		err = errors.New("response without type_url")
	}
	return r, err
}

// nameOf reads the name of the resource in the next n bytes and skips the rest: a delta Resource's
// name (field 3); in SotW, field 1 of the Any's message (every xDS resource's name; the other
// fields, a route table's virtual hosts, are skipped unread).
func nameOf(rd *mem.Reader, n int, delta bool) (string, error) {
	name := ""
	want := protowire.Number(2) // SotW: the Any's value, then its field 1
	if delta {
		want = 3
	}
	err := fields(rd, n, func(num protowire.Number, l int) (bool, error) {
		if num != want {
			return false, nil
		}
		if delta {
			v, err := readString(rd, l)
			name = v
			return true, err
		}
		return true, fields(rd, l, func(num protowire.Number, l int) (bool, error) {
			if num != 1 {
				return false, nil
			}
			v, err := readString(rd, l)
			name = v
			return true, err
		})
	})
	return name, err
}

// fields walks the message in the next n bytes of rd: each length-delimited field is offered to
// visit, which reads exactly its bytes (true) or leaves them to be skipped (false); other fields
// are skipped.
func fields(rd *mem.Reader, n int, visit func(num protowire.Number, length int) (bool, error)) error {
	end := rd.Remaining() - n
	for rd.Remaining() > end {
		tag, err := binary.ReadUvarint(rd)
		if err != nil {
			return err
		}
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		skip := 0
		switch typ {
		case protowire.VarintType:
			_, err = binary.ReadUvarint(rd)
		case protowire.Fixed64Type:
			skip = 8
		case protowire.Fixed32Type:
			skip = 4
		case protowire.BytesType:
			var l uint64
			if l, err = binary.ReadUvarint(rd); err != nil {
				return err
			}
			var read bool
			if read, err = visit(num, int(l)); err == nil && !read {
				skip = int(l)
			}
		default:
			return errors.New("unexpected wire type")
		}
		if err == nil && skip > 0 {
			_, err = rd.Discard(skip)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func readString(rd *mem.Reader, n int) (string, error) {
	v := make([]byte, n)
	_, err := io.ReadFull(rd, v)
	return string(v), err
}

// field returns the last length-delimited field `want` of message b (nil when absent).
func field(b []byte, want protowire.Number) []byte {
	var out []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return out
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return out
		}
		if num == want && typ == protowire.BytesType {
			out, _ = protowire.ConsumeBytes(b[:n])
		}
		b = b[n:]
	}
	return out
}

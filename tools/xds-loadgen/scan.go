package main

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// response is what the load generator reads of a (Delta)DiscoveryResponse.
type response struct {
	typeURL string
	version string
	nonce   string
	// resources: the messages inside the Anys (only kept for CDS and LDS, which are decoded).
	resources [][]byte
}

// scanResponse reads DiscoveryResponse (version_info=1, resources=2 Any, type_url=4, nonce=5) or
// DeltaDiscoveryResponse (system_version_info=1, resources=2 Resource{resource=2 Any}, type_url=4,
// nonce=5) without decoding the resources.
func scanResponse(b []byte, delta bool) (response, error) {
	var r response
	var anys [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return r, protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
		switch num {
		case 1:
			r.version = string(v)
		case 2:
			if delta {
				v = field(v, 2)
			}
			anys = append(anys, v)
		case 4:
			r.typeURL = string(v)
		case 5:
			r.nonce = string(v)
		}
	}
	if r.typeURL == "" {
		return r, errors.New("response without type_url")
	}
	if r.typeURL == typeCDS || r.typeURL == typeLDS {
		for _, a := range anys {
			r.resources = append(r.resources, field(a, 2))
		}
	}
	return r, nil
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

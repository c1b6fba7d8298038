// Node-API addon: compiles a pattern with the real RE2 (the library Envoy links) and returns what
// Envoy's regex matcher checks: whether RE2 accepts it, its error, and RE2::ProgramSize(). Pure
// computation, no I/O; compiler/model/re2.ts is its only caller.
#include <node_api.h>
#include <re2/re2.h>

#include <string>

namespace {

napi_value Fail(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

// compile(pattern: string) -> { ok: boolean, error: string, programSize: number }
napi_value Compile(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 1) return Fail(env, "compile(pattern) takes one string");
  size_t length = 0;
  if (napi_get_value_string_utf8(env, argv[0], nullptr, 0, &length) != napi_ok) return Fail(env, "compile(pattern) takes one string");
  std::string pattern(length, '\0');
  napi_get_value_string_utf8(env, argv[0], pattern.data(), length + 1, &length);

  // Envoy's options: no logging, default max_mem. Measured with Envoy 1.40 (`--mode validate`, error
  // level 1, so every regex reports its size): its sizes are RE2's Latin-1 sizes (`.` 6 not 12,
  // `\p{Greek}` 1 not 66, `\x{100}` refused), so the pattern's UTF-8 bytes are compiled as Latin-1 text.
  RE2::Options options(RE2::Quiet);
  options.set_encoding(RE2::Options::EncodingLatin1);
  RE2 re(pattern, options);
  napi_value result, ok, error, size;
  napi_create_object(env, &result);
  napi_get_boolean(env, re.ok(), &ok);
  napi_create_string_utf8(env, re.ok() ? "" : re.error().c_str(), NAPI_AUTO_LENGTH, &error);
  napi_create_int32(env, re.ok() ? re.ProgramSize() : -1, &size);
  napi_set_named_property(env, result, "ok", ok);
  napi_set_named_property(env, result, "error", error);
  napi_set_named_property(env, result, "programSize", size);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "compile", NAPI_AUTO_LENGTH, Compile, nullptr, &fn);
  napi_set_named_property(env, exports, "compile", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

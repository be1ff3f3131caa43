// SPDX-License-Identifier: MIT
// The libFuzzer target of the trace reader (tools/trace): any bytes are a trace or a trace_error,
// never a crash, a read out of bounds or another exception (std::bad_alloc would be a reader that
// trusts a count in the file).
#include "trace_reader.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        (void)pmrkit::trace::parse({reinterpret_cast<const std::byte*>(data), size});
    } catch (const pmrkit::trace::trace_error&) {
    }
    return 0;
}

// SPDX-License-Identifier: MIT
// The two stats resources are compiled once here; users of the header only instantiate them when
// they inline the fast paths through the concrete type.
#include "pmrkit/decorators/stats_resource.hpp"

namespace pmrkit {

template class basic_stats_resource<detail::plain_counter>;
template class basic_stats_resource<detail::relaxed_counter>;

} // namespace pmrkit

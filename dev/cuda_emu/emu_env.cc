// dev/cuda_emu: emulator mode from the environment. EMU_EARLY=1 lands cp.async copies at issue
// (catches refills of a buffer still being read) instead of at the wait (catches reads before the
// wait); EMU_SEED seeds the order in which threads run between sync points.
#include <cstdlib>
#include "emu_launch.h"
namespace {
struct Init {
  Init() {
    const char* e = std::getenv("EMU_EARLY");
    const char* s = std::getenv("EMU_SEED");
    emu::set_mode(e && e[0] == '1', s ? unsigned(std::atoi(s)) : 1u);
  }
} init;
}  // namespace

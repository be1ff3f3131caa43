// SPDX-License-Identifier: MIT
/// \file
/// pmrkit's version, as the CMake package (find_package(pmrkit 0.2)) and CHANGELOG.md give it:
/// CMakeLists.txt reads these three lines, and a test compares them with the changelog's newest
/// version. Before 1.0 a minor version may break the API (CHANGELOG.md says how).
#pragma once

/// Major version.
#define PMRKIT_VERSION_MAJOR 0
/// Minor version.
#define PMRKIT_VERSION_MINOR 2
/// Patch version.
#define PMRKIT_VERSION_PATCH 0
/// The version as one number, major * 10000 + minor * 100 + patch, for preprocessor comparisons.
#define PMRKIT_VERSION                                                                             \
    (PMRKIT_VERSION_MAJOR * 10000 + PMRKIT_VERSION_MINOR * 100 + PMRKIT_VERSION_PATCH)

#pragma once
// One function per mechanism file returns its singleton; registry.cpp lists them in catalogue order.

#include <cadyn/mechanism.hpp>

namespace cadyn::mechanisms {

const mechanism& pmca();
const mechanism& serca();
const mechanism& leak();
const mechanism& buffer();
const mechanism& pulse_train();

} // namespace cadyn::mechanisms

#pragma once
// One function per mechanism file returns its singleton; registry.cpp lists them in catalogue order.

#include <cadyn/mechanism.hpp>

namespace cadyn::mechanisms {

const mechanism& pmca();
const mechanism& serca();
const mechanism& leak();
const mechanism& buffer();
const mechanism& pulse_train();
const mechanism& ncx();
const mechanism& pmca_cam();
const mechanism& serca_reversible();
const mechanism& ghk_leak();
const mechanism& ryr();
const mechanism& ip3r_dyk();
const mechanism& ip3r_li_rinzel();
const mechanism& ip3r_neymotin();
const mechanism& mcu();
const mechanism& nclx();
const mechanism& soce();
const mechanism& vgcc();
const mechanism& fluo4();
const mechanism& fura2();
const mechanism& ogb1();
const mechanism& channel();

} // namespace cadyn::mechanisms

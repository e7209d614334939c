#pragma once
// One function per mechanism file returns its singleton; registry.cpp lists them in catalogue order.

#include <string_view>
#include <vector>

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
const mechanism& ip3r_cluster();

// The parameter table of the Li-Rinzel IP3 receptor (permeability, d1, d2, d3, d5, a2; ip3r.cpp), shared by
// ip3r_li_rinzel and its stochastic form ip3r_cluster, which word two meanings differently.
std::vector<field_info> li_rinzel_parameters(std::string_view permeability_meaning, std::string_view a2_meaning);
// The parameter table of the ryanodine receptor (ryr.cpp), shared by ryr and ryr_cluster.
std::vector<field_info> ryr_parameters();
const mechanism& ryr_cluster();
const mechanism& mcu();
const mechanism& nclx();
const mechanism& soce();
const mechanism& vgcc();
const mechanism& fluo4();
const mechanism& fura2();
const mechanism& ogb1();
const mechanism& channel();

} // namespace cadyn::mechanisms

# 2025-10-29 12:50:00 by RouterOS 7.16.1
# software id = 7KQ2-XY9Z
#
# model = RB5009UG+S+
# serial number = HEX0A1B2C3D4
/interface bridge
add admin-mac=48:A9:8A:10:20:30 auto-mac=no comment=defconf name=bridge \
    vlan-filtering=yes
add comment="Router ID \"lo0\" for OSPF" name=loopback
add disabled=yes name=bridge-lab
/interface ethernet
set [ find default-name=ether1 ] comment="WAN - Fibre \"Openserve\"" name=\
    ether1-wan
set [ find default-name=sfp-sfpplus1 ] disabled=yes
/interface vlan
add interface=bridge name=vlan10-staff vlan-id=10
add comment="Guest Wi-Fi (isolated)" interface=bridge name=vlan20-guest \
    vlan-id=20
add interface=bridge name=vlan30-voip vlan-id=30
add disabled=yes interface=bridge name=vlan99-mgmt vlan-id=99
/interface list
add comment=defconf name=WAN
add comment=defconf name=LAN
/interface bridge port
add bridge=bridge comment=defconf interface=ether2
add bridge=bridge comment=defconf interface=ether3
add bridge=bridge comment=defconf interface=ether4
add bridge=bridge-lab interface=ether8
/interface bridge vlan
add bridge=bridge tagged=bridge,ether2 vlan-ids=10
add bridge=bridge tagged=bridge,ether2,ether3 vlan-ids=20,30
/interface list member
add comment=defconf interface=bridge list=LAN
add comment=defconf interface=ether1-wan list=WAN
/ip pool
add name=dhcp-staff ranges=10.10.10.100-10.10.10.199
/ip address
add address=192.168.88.1/24 comment=defconf interface=bridge network=\
    192.168.88.0
add address=10.10.10.1/24 comment="Staff LAN" interface=vlan10-staff \
    network=10.10.10.0
add address=10.20.20.1/24 comment="Guest \"hotspot\" LAN" interface=\
    vlan20-guest network=10.20.20.0
add address=10.30.30.1/25 interface=vlan30-voip network=10.30.30.0
add address=10.99.99.1/24 interface=vlan99-mgmt network=10.99.99.0
add address=10.255.255.1/32 comment="Router ID \"lo0\"" interface=loopback \
    network=10.255.255.1
add address=172.16.50.1/24 disabled=yes interface=ether5 network=172.16.50.0
add address=198.51.100.2/30 interface=ether1-wan network=198.51.100.0
add address=192.168.200.1/24 interface=bridge-lab network=192.168.200.0
/ip dhcp-client
add comment=defconf disabled=yes interface=ether1-wan
/ip dns
set allow-remote-requests=yes servers=1.1.1.1,9.9.9.9
/ip firewall filter
add action=accept chain=input comment=\
    "defconf: accept established,related,untracked" connection-state=\
    established,related,untracked
add action=drop chain=input comment="defconf: drop all not coming from LAN" \
    in-interface-list=!LAN
/ip firewall nat
add action=masquerade chain=srcnat comment="defconf: masquerade" \
    ipsec-policy=out,none out-interface-list=WAN
/ip route
add comment="Default via Openserve" disabled=no distance=1 dst-address=\
    0.0.0.0/0 gateway=198.51.100.1
add comment="Branch office via IPsec" dst-address=10.40.0.0/16 gateway=\
    10.10.10.254
add blackhole dst-address=10.0.0.0/8
add disabled=yes dst-address=172.20.0.0/16 gateway=ether5
add dst-address=10.30.30.200/29 gateway=10.30.30.126
/ipv6 address
add address=2001:db8:100:10::1/64 advertise=yes interface=vlan10-staff
add address=2001:db8:100:20::1/64 interface=vlan20-guest
add address=2001:db8:100:ff::1/128 interface=loopback
add address=::1/64 from-pool=isp-pd interface=bridge
add address=fe80::1/64 interface=vlan30-voip
/ipv6 route
add dst-address=::/0 gateway=2001:db8:ffff::1
add comment="DC \"east\"" dst-address=2001:db8:200::/48 gateway=\
    2001:db8:100:10::fe
/system clock
set time-zone-name=Africa/Johannesburg
/system identity
set name="HQ Core (RB5009)"

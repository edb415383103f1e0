/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#define NLC_DBUS_SERVICE            "org.netlifecd1"
#define NLC_DBUS_PATH               "/org/netlifecd1"
#define NLC_DBUS_DEVICE_PATH_PREFIX "/org/netlifecd1/device/"
#define NLC_DBUS_INTERFACE_MANAGER  "org.netlifecd1.Manager"
#define NLC_DBUS_INTERFACE_DEVICE   "org.netlifecd1.Device"
#define NLC_DBUS_ERROR_PREFIX       "org.netlifecd1.Error."

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-object log macros: every line names the device it is about, so an
 * operator can grep one guest NIC's history. Low layers log at debug only;
 * the caller that decides what an error means logs it once.
 */
#pragma once

#include <glib.h>

#define nlc_dev_log(level, dev, fmt, ...)                                             \
        g_log(G_LOG_DOMAIN, level, "device %s (%s %s): " fmt, nlc_device_get_id(dev), \
              nlc_device_get_instance(dev), nlc_device_get_ifname_or_dash(dev), ##__VA_ARGS__)

#define nlc_dev_message(dev, ...) nlc_dev_log(G_LOG_LEVEL_MESSAGE, dev, __VA_ARGS__)
#define nlc_dev_warning(dev, ...) nlc_dev_log(G_LOG_LEVEL_WARNING, dev, __VA_ARGS__)
#define nlc_dev_debug(dev, ...)   nlc_dev_log(G_LOG_LEVEL_DEBUG, dev, __VA_ARGS__)

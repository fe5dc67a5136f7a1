# SPDX-License-Identifier: MIT
# Included at install time (see zd_install_pc()): writes a .pc file for
# the prefix being installed to, so that `cmake --install --prefix DIR`
# gets DIR in it and not the prefix the build was configured with.
# DESTDIR is not part of it: a staged install is found at its final prefix.
# Set first: ZD_PC_IN (template), ZD_PC_OUT (file written), ZD_LIBDIR,
# ZD_INCLUDEDIR (GNUInstallDirs values) and PROJECT_VERSION.
foreach(v LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${ZD_${v}}")
    set(ZD_PC_${v} "${ZD_${v}}")
  else()
    set(ZD_PC_${v} "\${prefix}/${ZD_${v}}")
  endif()
endforeach()
set(ZD_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
configure_file("${ZD_PC_IN}" "${ZD_PC_OUT}" @ONLY)

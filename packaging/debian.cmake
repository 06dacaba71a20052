# SPDX-License-Identifier: GPL-3.0-or-later
# The Debian package, made by CPack: cmake --build build --target package
# gives build/ocrq_VERSION_ARCH.deb (docs/operations.md, "Installing the
# Debian package"). What `cmake --install` puts under the prefix goes under
# /usr; deb-stage.cmake then moves the config to /etc/ocrq (a conffile) and
# the systemd units to /lib/systemd/system, and compresses the man pages and
# the longer documents as Debian policy wants. The maintainer scripts make
# the ocrq system user (postinst) and remove it on purge (postrm).
include(GNUInstallDirs)

install(FILES ${PROJECT_SOURCE_DIR}/conf/ocrq.conf DESTINATION etc/ocrq)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/packaging/copyright
              ${PROJECT_SOURCE_DIR}/packaging/changelog
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
        FILES_MATCHING PATTERN "*.md" PATTERN "man" EXCLUDE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ocrq)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ocrq developers <ocrq@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "OCR job system on RabbitMQ and PostgreSQL")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "ocrq runs Tesseract OCR as a job system: ocrq-submit and the HTTP API
ocrq-api queue scanned documents (images, multi-page TIFFs, PDFs) in
RabbitMQ; ocrq-worker daemons recognize them, store the text in PostgreSQL,
acknowledge each job only after its result is committed, and send signed
webhooks. ocrq-admin sets up the queues and the schema and manages the
dead-letter queue, API keys, cancellation and retention.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/ocrq")
# the libraries from dpkg-shlibdeps; besides them, what the programs read or run
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "tesseract-ocr-eng, passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "tesseract-ocr-osd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "rabbitmq-server, postgresql")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/conffiles;${PROJECT_SOURCE_DIR}/packaging/postinst;${PROJECT_SOURCE_DIR}/packaging/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/packaging/deb-stage.cmake)
include(CPack)

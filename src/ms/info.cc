// The table-info label of a table (its `table.info` type and subtype),
// which rubbl_casatables does not wrap. CASA decides what a table is from
// this label: a main table without "Measurement Set" is taken for a
// calibration table, and flagdata then fails on SPECTRAL_WINDOW_ID.
//
// Compiled against the casacore that rubbl_casatables_impl builds (in its
// `rubbl_casacore` namespace).

#include <casacore/tables/Tables/Table.h>
#include <casacore/tables/Tables/TableInfo.h>

#include <cstring>
#include <exception>

extern "C" {

// Set the type, subtype and readme of the closed table at `table_path`.
// Returns 0, or 1 with a message in `err`.
int dsa110_set_table_info(const char *table_path, const char *type,
                          const char *sub_type, const char *readme, char *err,
                          unsigned long err_len) {
    try {
        casacore::Table table(table_path, casacore::Table::Update);
        casacore::TableInfo &info = table.tableInfo();
        info.setType(type);
        info.setSubType(sub_type);
        info.readmeClear();
        info.readmeAddLine(readme);
        table.flushTableInfo();
        return 0;
    } catch (const std::exception &e) {
        if (err_len > 0) {
            std::strncpy(err, e.what(), err_len - 1);
            err[err_len - 1] = '\0';
        }
        return 1;
    } catch (...) {
        if (err_len > 0) {
            std::strncpy(err, "unknown C++ exception", err_len - 1);
            err[err_len - 1] = '\0';
        }
        return 1;
    }
}
}
